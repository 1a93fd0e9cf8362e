"""The daily report asset."""

import dagster as dg
from dagster_aws.s3 import S3Resource

from elt_assets.defs.datasets.assets import gold_key
from elt_assets.defs.partitions import DAILY
from elt_assets.defs.resources import PipelineResource, SQSResource
from lambda_bridge.contracts import ContractRegistry

REPORT = dg.AssetKey(["reports", "daily"])


def build_report(registry: ContractRegistry) -> dg.AssetsDefinition:
    """The daily report, downstream of every dataset's gold."""

    @dg.asset(
        key=REPORT,
        # The report summarises every dataset's day: lineage shows it below their gold.
        deps=[gold_key(c.name) for c in registry],
        partitions_def=DAILY,
        group_name="reports",
        kinds={"s3", "markdown"},
        description=(
            "The daily report: rows and quarantine by reason per dataset, the latest check outcomes, "
            "queue and DLQ depth, and a chart; written to `reports/<D>/` in the silver bucket."
        ),
    )
    def daily_report(
        context: dg.AssetExecutionContext,
        pipeline: PipelineResource,
        s3: S3Resource,
        sqs: SQSResource,
    ) -> dg.MaterializeResult:
        from elt_assets.defs.daily.outcomes import latest_check_outcomes
        from elt_assets.lib.queues import queue_depths
        from elt_assets.lib.report import (
            DatasetDay,
            data_uri,
            render_chart,
            render_markdown,
            write_report,
        )
        from elt_assets.lib.state import partition_manifests, partition_totals

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
        chart = render_chart(datasets)
        keys = write_report(client, pipeline.silver_bucket, day, datasets, dlq, queue, chart)
        # The UI cannot fetch the chart from the bucket, so its markdown carries the image.
        markdown = render_markdown(day, datasets, dlq, queue, chart=data_uri(chart))
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

    return daily_report
