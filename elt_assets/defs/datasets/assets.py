"""bronze/<dataset>, silver/<dataset> and gold/<dataset>_daily: one set per dataset contract."""

import json
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field

from elt_assets.defs.automation import freshness
from elt_assets.defs.partitions import DAILY
from elt_assets.defs.queues.assets import EVENTS_QUEUE
from elt_assets.defs.resources import PipelineResource, SQSResource
from elt_assets.lib.replay import iter_bronze_objects, replay_partition
from elt_assets.lib.state import partition_manifests, partition_totals
from lambda_bridge.contracts import Contract
from lambda_bridge.keys import gold_summary_key


def bronze_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["bronze", dataset])


def silver_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["silver", dataset])


def gold_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["gold", f"{dataset}_daily"])


def arrow_table_schema(schema: Any) -> dg.TableSchema:
    """An Arrow schema as the UI's column table (what a gold model's run produced)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                field.name,
                str(field.type),
                constraints=dg.TableColumnConstraints(nullable=field.nullable),
            )
            for field in schema
        ]
    )


def column_schema(contract: Contract) -> dg.TableSchema:
    """Silver's columns as the UI shows them: the contract's, then the lineage columns."""
    described = {c.name: c.description for c in contract.columns}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                field.name,
                str(field.type),
                description=described.get(field.name) or None,
                constraints=dg.TableColumnConstraints(nullable=field.nullable),
            )
            for field in contract.silver_schema
        ]
    )


# The daily summary's one row, as gold/<dataset>_daily writes it.
GOLD_SUMMARY_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("dataset", "string", description="The dataset's name."),
        dg.TableColumn("dt", "date", description="The partition day."),
        dg.TableColumn("objects", "int64", description="Bronze objects in silver that day."),
        dg.TableColumn("lines_in", "int64", description="Records offered."),
        dg.TableColumn("rows_out", "int64", description="Rows in silver."),
        dg.TableColumn("rows_quarantined", "int64", description="Records quarantined."),
        dg.TableColumn("bytes_in", "int64", description="Bronze bytes read."),
        dg.TableColumn(
            "quarantine_by_code", "map<string, int64>", description="Quarantined per reason."
        ),
    ]
)


class ReplayConfig(dg.Config):
    """How a silver materialization replays its day (the Launchpad's config)."""

    via_queue: bool = Field(
        default=False,
        description="Send the day's objects through the events queue, so the transform Lambdas "
        "replay them in parallel, and wait for their manifests; else they run in this run.",
    )
    timeout_seconds: int = Field(
        default=900, description="With via_queue: how long to wait for the manifests."
    )


def gate_silver(
    context: dg.AssetExecutionContext,
    contract: Contract,
    pipeline: PipelineResource,
    client: Any,
    day: str,
) -> None:
    """Gold is made only from a partition whose silver checks pass.

    In a run that holds the dataset's silver checks (the `quality_gate` schedule), their
    blocking already does that. Dagster's UI launches a job or an asset without the checks of
    assets it does not materialize (the job page's "Materialize all" sends only gold), so such
    a run evaluates them here first, records them on silver's partition as the checks would,
    and fails with what failed instead of making gold from data no check has passed.
    """
    from elt_assets.defs.datasets.checks import CHECK_NAMES, evaluate

    key = silver_key(contract.name)
    planned = context.job_def.asset_layer.asset_graph.asset_check_keys
    if {dg.AssetCheckKey(key, name) for name in CHECK_NAMES} <= set(planned):
        return
    failed = []
    for result in evaluate(contract, pipeline, client, day, set(CHECK_NAMES)):
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=str(result.check_name),
                passed=result.passed,
                metadata=result.metadata,
                description=result.description,
                blocking=True,
                partition=day,
            )
        )
        if not result.passed:
            failed.append(f"{result.check_name}: {result.description or 'failed'}")
    if failed:
        msg = (
            f"silver/{contract.name} dt={day} failed its checks, so gold is not made: "
            + "; ".join(failed)
        )
        raise dg.Failure(description=msg, allow_retries=False)


def replay_via_queue(
    context: dg.AssetExecutionContext,
    contract: Contract,
    pipeline: PipelineResource,
    s3: S3Resource,
    sqs: SQSResource,
    timeout: float,
) -> Any:
    """The day's pointer messages through the events queue; the run waits for the manifests."""
    from elt_assets.lib.replay import finish_partition, send_partition, wait_for_partitions

    client, day = s3.get_client(), context.partition_key
    sent = send_partition(
        client, sqs.get_client(), sqs.queue_url, contract, pipeline.bronze_bucket, day
    )
    context.log.info(f"sent {len(sent.expected)} messages for {contract.name} dt={day}")
    waiting = wait_for_partitions(
        client, pipeline.silver_bucket, pipeline.bronze_bucket, contract.name, [sent], timeout
    )
    if waiting:
        msg = (
            f"{len(waiting)} of {len(sent.expected)} messages of {contract.name} dt={day} got no "
            f"manifest within {timeout:.0f} s (first: {waiting[0][0]}): see the DLQ"
        )
        raise dg.Failure(description=msg, allow_retries=False)
    return finish_partition(client, contract, pipeline.bronze_bucket, pipeline.silver_bucket, sent)


def build_assets(contract: Contract) -> list[dg.AssetsDefinition]:
    name = contract.name
    columns = ", ".join(f"`{c.name} {c.type}`" for c in contract.columns)
    owners = list(contract.owners)

    @dg.asset(
        key=bronze_key(name),
        partitions_def=DAILY,
        group_name=name,
        owners=owners,
        kinds={"bronze", "s3", "json" if "csv" not in contract.formats else "csv"},
        description=(
            f"Raw {name} files under s3://$ELT_BRONZE_BUCKET/{contract.bronze_prefix} for one arrival "
            "day. The landings sensor reports partitions as the Lambdas process them; "
            "materializing one lists the day's objects."
        ),
    )
    def bronze(
        context: dg.AssetExecutionContext, pipeline: PipelineResource, s3: S3Resource
    ) -> dg.MaterializeResult:
        objects = list(
            iter_bronze_objects(
                s3.get_client(), pipeline.bronze_bucket, contract, context.partition_key
            )
        )
        return dg.MaterializeResult(
            metadata={"objects": len(objects), "bytes": sum(int(o["Size"]) for o in objects)}
        )

    @dg.asset(
        key=silver_key(name),
        # The transform Lambda reads the events queue; a replay reads bronze directly.
        deps=[bronze, EVENTS_QUEUE],
        partitions_def=DAILY,
        group_name=name,
        owners=owners,
        kinds={"silver", "s3", "parquet"},
        metadata={"dagster/column_schema": column_schema(contract)},
        # A dataset whose files stop arriving turns red in the UI, between the daily checks.
        freshness_policy=freshness(contract),
        description=(
            f"Typed {name} rows as zstd Parquet (`silver/{name}/dt=<D>/part-<id>.parquet`): {columns}, "
            "plus lineage. The Lambdas write it as files land; materializing a partition is a "
            "REPLAY: the same transform over that day's bronze objects, to the same keys."
        ),
    )
    def silver(
        context: dg.AssetExecutionContext,
        config: ReplayConfig,
        pipeline: PipelineResource,
        s3: S3Resource,
        sqs: SQSResource,
    ) -> dg.MaterializeResult:
        if config.via_queue:
            summary = replay_via_queue(context, contract, pipeline, s3, sqs, config.timeout_seconds)
        else:
            summary = replay_partition(
                s3.get_client(),
                contract,
                pipeline.bronze_bucket,
                pipeline.silver_bucket,
                context.partition_key,
            )
        context.log.info(
            f"replayed {summary.objects} objects of {name} dt={summary.day}: {summary.rows_out} rows, "
            f"{summary.rows_quarantined} quarantined {summary.by_code or ''}"
        )
        return dg.MaterializeResult(
            metadata={**summary.metadata(), "dagster/row_count": summary.rows_out}
        )

    @dg.asset(
        key=gold_key(name),
        deps=[silver],
        partitions_def=DAILY,
        group_name=name,
        owners=owners,
        kinds={"gold", "s3", "json"},
        metadata={"dagster/column_schema": GOLD_SUMMARY_SCHEMA},
        description=(
            f"Daily summary of {name}: rows, quarantine by reason and bytes for the day, written to "
            f"`gold/{name}_daily/dt=<D>/summary.json`. Blocked when a silver check fails."
        ),
    )
    def gold(
        context: dg.AssetExecutionContext, pipeline: PipelineResource, s3: S3Resource
    ) -> dg.MaterializeResult:
        client = s3.get_client()
        day = context.partition_key
        gate_silver(context, contract, pipeline, client, day)
        manifests = partition_manifests(client, pipeline.silver_bucket, name, day)
        summary = {"dataset": name, "dt": day, **partition_totals(manifests)}
        key = gold_summary_key(f"{name}_daily", day)
        client.put_object(
            Bucket=pipeline.silver_bucket, Key=key, Body=json.dumps(summary, indent=2).encode()
        )
        rate = summary["rows_quarantined"] / summary["lines_in"] if summary["lines_in"] else 0.0
        return dg.MaterializeResult(
            metadata={
                "objects": summary["objects"],
                "rows_out": summary["rows_out"],
                "rows_quarantined": summary["rows_quarantined"],
                "quarantine_rate": round(rate, 6),
                "bytes_in": summary["bytes_in"],
                "summary_key": dg.MetadataValue.path(f"s3://{pipeline.silver_bucket}/{key}"),
                "dagster/row_count": 1,  # one summary row per day
            }
        )

    return [bronze, silver, gold]
