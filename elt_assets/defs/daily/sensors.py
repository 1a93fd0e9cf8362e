"""Run-status sensors: the daily report follows every quality gate run, passed or failed, and a
failed one alerts the alerts topic."""

from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from elt_assets.defs.resources import PipelineResource, SNSResource

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
    def report_after_gate(
        context: dg.RunStatusSensorContext,
        pipeline: PipelineResource,
        s3: S3Resource,
        sns: SNSResource,
    ) -> dg.RunRequest | dg.SkipReason:
        day = context.dagster_run.tags.get("dagster/partition")
        if not day:
            return dg.SkipReason("the quality gate ran without a partition")
        if status == dg.DagsterRunStatus.FAILURE and sns.alerts_topic():
            _alert(context, pipeline, s3, sns, day)
        return dg.RunRequest(run_key=f"report:{context.dagster_run.run_id}", partition_key=day)

    return report_after_gate


def _alert(
    context: dg.RunStatusSensorContext,
    pipeline: PipelineResource,
    s3: S3Resource,
    sns: SNSResource,
    day: str,
) -> None:
    """What failed in the gate run, from its check evaluations, on the alerts topic (once)."""
    from elt_assets.lib.events import publish_gate_alert

    run_id = context.dagster_run.run_id
    records = context.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    failures = [
        {
            "dataset": data.asset_key.path[-1],
            "check": data.check_name,
            "description": data.description or "",
        }
        for data in (r.dagster_event.event_specific_data for r in records)
        if not data.passed
    ]
    publish_gate_alert(
        sns.get_client(), s3.get_client(), sns.alerts_topic(), pipeline.silver_bucket, day,
        run_id, failures,
    )  # fmt: skip
