"""The daily quality gate: gold partitions behind blocking checks, a 02:00 UTC schedule, and the
daily report written after every gate run, whether the gate passed or not."""

import datetime as dt
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from elt_assets.defs.medallion.assets import gold_key, silver_key
from elt_assets.defs.partitions import DAILY
from elt_assets.defs.resources import PipelineResource, SQSResource
from lambda_bridge.contracts import ContractRegistry

REPORT = dg.AssetKey(["reports", "daily"])


@dg.asset(
    key=REPORT,
    partitions_def=DAILY,
    group_name="reports",
    kinds={"s3", "markdown"},
    description=(
        "The daily report: rows and quarantine by reason per dataset, the latest check outcomes, "
        "queue and DLQ depth, and a chart; written to reports/<D>/ in the silver bucket."
    ),
)
def daily_report(
    context: dg.AssetExecutionContext, pipeline: PipelineResource, s3: S3Resource, sqs: SQSResource
) -> dg.MaterializeResult:
    from elt_assets.check_outcomes import latest_check_outcomes
    from elt_assets.report import DatasetDay, render_markdown, write_report
    from elt_assets.state import partition_manifests, partition_totals, queue_depths

    day = context.partition_key
    client = s3.get_client()
    outcomes = latest_check_outcomes(context.instance, day)
    datasets = []
    for contract in pipeline.registry():
        totals = partition_totals(
            partition_manifests(client, pipeline.silver_bucket, contract.name, day)
        )
        checks = [{"name": o.name, "passed": o.passed, "description": o.description}
                  for o in outcomes if o.dataset == contract.name]  # fmt: skip
        datasets.append(DatasetDay(
            dataset=contract.name, dt=day, objects=totals["objects"], lines_in=totals["lines_in"],
            rows_out=totals["rows_out"], rows_quarantined=totals["rows_quarantined"],
            quarantine_by_code=totals["quarantine_by_code"], checks=checks, silver_bytes=totals["bytes_in"],
        ))  # fmt: skip
    sqs_client = sqs.get_client()
    dlq = queue_depths(sqs_client, sqs.dlq_url)["visible"]
    queue = sum(queue_depths(sqs_client, sqs.queue_url).values())
    keys = write_report(client, pipeline.silver_bucket, day, datasets, dlq, queue)
    markdown = render_markdown(day, datasets, dlq, queue, chart_name="quarantine.png")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(markdown),
            "rows_out": sum(d.rows_out for d in datasets),
            "rows_quarantined": sum(d.rows_quarantined for d in datasets),
            "checks_failed": sum(1 for o in outcomes if not o.passed),
            "dlq_depth": dlq,
            "report_key": dg.MetadataValue.path(
                f"s3://{pipeline.silver_bucket}/{keys['markdown']}"
            ),
        }
    )


def build_quality_gate(registry: ContractRegistry) -> Any:
    return dg.define_asset_job(
        "quality_gate",
        selection=dg.AssetSelection.assets(*[gold_key(c.name) for c in registry])
        | dg.AssetSelection.checks_for_assets(*[silver_key(c.name) for c in registry]),
        description="Runs every silver check for a day, then the gold summaries the checks allow.",
    )


def yesterday(moment: dt.datetime) -> str:
    """The partition a 02:00 run reports on: the day that just ended (UTC)."""
    return (moment.astimezone(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


def defs(registry: ContractRegistry) -> dg.Definitions:
    gate = build_quality_gate(registry)
    report_job = dg.define_asset_job("daily_report", selection=[REPORT])

    @dg.schedule(
        name="daily_quality_gate",
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        job=gate,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="At 02:00 UTC: yesterday's checks and gold partitions; the report follows.",
    )
    def daily_quality_gate(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = yesterday(context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"quality_gate:{day}", partition_key=day)

    def _report_request(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        day = context.dagster_run.tags.get("dagster/partition")
        if not day:
            return dg.SkipReason("the quality gate ran without a partition")
        return dg.RunRequest(run_key=f"report:{context.dagster_run.run_id}", partition_key=day)

    @dg.run_status_sensor(
        name="report_after_gate_success", run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[gate],
        request_job=report_job, default_status=dg.DefaultSensorStatus.RUNNING,
        description="Writes the daily report when a quality gate run succeeds.",
    )  # fmt: skip
    def report_after_gate_success(context: dg.RunStatusSensorContext):
        return _report_request(context)

    @dg.run_status_sensor(
        name="report_after_gate_failure", run_status=dg.DagsterRunStatus.FAILURE, monitored_jobs=[gate],
        request_job=report_job, default_status=dg.DefaultSensorStatus.RUNNING,
        description="Writes the daily report when a quality gate run fails (a failed check included).",
    )  # fmt: skip
    def report_after_gate_failure(context: dg.RunStatusSensorContext):
        return _report_request(context)

    return dg.Definitions(
        assets=[daily_report],
        jobs=[gate, report_job],
        schedules=[daily_quality_gate],
        sensors=[report_after_gate_success, report_after_gate_failure],
    )
