"""What one replayed day came to, read back from the Dagster instance, and how `elt` reports it.

Both ways of replaying (runs in this process, or a daemon's backfill) leave the same records in
the instance: the run, its silver materialization and its check evaluations. Reading them back
from there gives one report for both.
"""

from dataclasses import dataclass, field
from typing import Any

from elt_assets.cli.common import table

# The checks' convention: a check that compares a value with a limit reports the value under
# its own name and the limit as `threshold` (quarantine_rate does).
_LIMIT = "threshold"


def _number(value: float) -> str:
    """Two decimals (0.20, 0.05), unless that would hide the difference (0.0417)."""
    text = f"{value:.2f}"
    return text if float(text) == value else f"{value:.4g}"


@dataclass(frozen=True)
class CheckResult:
    """One check evaluation of a replayed partition."""

    name: str
    passed: bool
    blocking: bool
    description: str
    metadata: dict[str, Any]

    def explain(self) -> str:
        """`quarantine_rate 0.30 > 0.05`, or the check's name and description."""
        value, limit = self.metadata.get(self.name), self.metadata.get(_LIMIT)
        if isinstance(value, int | float) and isinstance(limit, int | float):
            return f"{self.name} {_number(value)} > {_number(limit)}"
        return f"{self.name} ({self.description})" if self.description else self.name


@dataclass
class DayOutcome:
    """A replayed day: its run, what the silver materialization reported, and its checks."""

    day: str
    run_id: str | None = None
    succeeded: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def run_failed(self) -> bool:
        """The run itself failed: not merely because a blocking check did (that is a result)."""
        if self.succeeded:
            return False
        return self.error is not None or not any(c.blocking for c in self.failed_checks)

    def checks_cell(self) -> str:
        if self.run_failed:
            return "run failed"
        if not self.checks:
            return "not run"
        if not self.failed_checks:
            return f"passed {len(self.checks)}/{len(self.checks)}"
        return "FAILED: " + ", ".join(c.name for c in self.failed_checks)

    def line(self, dataset: str) -> str:
        """One line per day as it finishes, for the log of a long replay."""
        m = self.metadata
        text = (
            f"{dataset} dt={self.day}: {m.get('objects', 0)} objects, {m.get('rows_out', 0)} rows, "
            f"{m.get('rows_quarantined', 0)} quarantined in {m.get('seconds', 0)}s"
        )
        if self.run_failed:
            return f"{text}; the run failed: {self.error or 'see Dagster'}"
        return f"{text}; checks {self.checks_cell()}"


def read_outcome(instance: Any, run_id: str, asset_key: Any, day: str) -> DayOutcome:
    """The outcome of the run that replayed `day`, from the events it stored."""
    import dagster as dg

    kinds = dg.DagsterEventType
    run = instance.get_run_by_id(run_id)
    outcome = DayOutcome(day, run_id, run is not None and run.status == dg.DagsterRunStatus.SUCCESS)
    wanted = {kinds.ASSET_MATERIALIZATION, kinds.ASSET_CHECK_EVALUATION, kinds.STEP_FAILURE}
    for entry in instance.all_logs(run_id, of_type=wanted):
        event = entry.dagster_event
        data = event.event_specific_data
        if event.event_type == kinds.ASSET_MATERIALIZATION and event.asset_key == asset_key:
            outcome.metadata = {k: v.value for k, v in data.materialization.metadata.items()}
        elif event.event_type == kinds.ASSET_CHECK_EVALUATION and data.asset_key == asset_key:
            outcome.checks.append(
                CheckResult(
                    name=data.check_name,
                    passed=data.passed,
                    blocking=bool(data.blocking),
                    description=data.description or "",
                    metadata={k: v.value for k, v in data.metadata.items()},
                )
            )
        elif event.event_type == kinds.STEP_FAILURE and outcome.error is None:
            outcome.error = _user_error(data.error)
    return outcome


def _user_error(error: Any) -> str | None:
    """The first line of what went wrong in a step; None when a blocking check was the cause."""
    if error is None or error.cls_name == "DagsterAssetCheckFailedError":
        return None
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    lines = error.message.strip().splitlines()
    return lines[0] if lines else error.cls_name


def report(out: Any, err: Any, dataset: str, outcomes: list[DayOutcome]) -> int:
    """The summary table, and for anything that failed one sentence on stderr; the exit code."""
    summary = table(
        "dt",
        ">objects",
        ">lines in",
        ">rows out",
        ">quarantined",
        ">seconds",
        "checks",
        title=f"Replay of silver/{dataset}",
    )
    for o in outcomes:
        m = o.metadata
        summary.add_row(
            o.day,
            *(f"{m.get(k, 0):,}" for k in ("objects", "lines_in", "rows_out", "rows_quarantined")),
            f"{m.get('seconds', 0):.1f}",
            o.checks_cell(),
        )
    out.print(summary)
    runs = [o for o in outcomes if o.run_failed]
    if runs:
        failures = "; ".join(
            f"dt={o.day} (Dagster run {o.run_id or '-'}): {o.error or 'see the run in Dagster'}"
            for o in runs
        )
        err.print(f"elt: the replay failed for {len(runs)} of {len(outcomes)} days: {failures}")
        return 1
    blocking = [(o.day, c) for o in outcomes for c in o.failed_checks if c.blocking]
    if blocking:
        what = "; ".join(f"dt={day} {check.explain()}" for day, check in blocking)
        err.print(
            f"elt: the replay itself completed, but blocking checks failed: {what}"
            if len(blocking) > 1
            else f"elt: the replay itself completed, but a blocking check failed: {what}"
        )
        return 1
    return 0
