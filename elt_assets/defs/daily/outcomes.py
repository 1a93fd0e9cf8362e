"""The latest check outcomes of a partition, read back from the Dagster instance."""

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class CheckOutcome:
    dataset: str
    name: str
    passed: bool
    description: str
    run_id: str


def latest_check_outcomes(
    instance: dg.DagsterInstance, day: str, runs_to_scan: int = 50
) -> list[CheckOutcome]:
    """The newest evaluation of every silver check for partition `day`, whichever run made it."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={"dagster/partition": day}), limit=runs_to_scan
    )
    seen: dict[tuple[str, str], CheckOutcome] = {}
    for run in runs:  # newest first
        for entry in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ):
            evaluation = entry.dagster_event.event_specific_data
            path = evaluation.asset_key.path
            if path[0] != "silver":
                continue
            key = (path[-1], evaluation.check_name)
            if key not in seen:
                seen[key] = CheckOutcome(
                    path[-1],
                    evaluation.check_name,
                    evaluation.passed,
                    evaluation.description or "",
                    run.run_id,
                )
    return sorted(seen.values(), key=lambda o: (o.passed, o.dataset, o.name))
