"""Run-status sensors: the daily report follows every quality gate run, passed or failed."""

from typing import Any

import dagster as dg

_OUTCOMES = (
    (dg.DagsterRunStatus.SUCCESS, "success", "succeeds"),
    (dg.DagsterRunStatus.FAILURE, "failure", "fails (a failed check included)"),
)


def build_report_sensors(gate: Any, report_job: Any) -> list[dg.RunStatusSensorDefinition]:
    return [
        _report_sensor(gate, report_job, status, name, verb) for status, name, verb in _OUTCOMES
    ]


def _report_sensor(
    gate: Any, report_job: Any, status: dg.DagsterRunStatus, name: str, verb: str
) -> dg.RunStatusSensorDefinition:
    @dg.run_status_sensor(
        name=f"report_after_gate_{name}",
        run_status=status,
        monitored_jobs=[gate],
        request_job=report_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Writes the daily report when a quality gate run {verb}.",
    )
    def report_after_gate(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        day = context.dagster_run.tags.get("dagster/partition")
        if not day:
            return dg.SkipReason("the quality gate ran without a partition")
        return dg.RunRequest(run_key=f"report:{context.dagster_run.run_id}", partition_key=day)

    return report_after_gate
