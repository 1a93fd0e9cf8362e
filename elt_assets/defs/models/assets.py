"""gold/<model>: a SQL model (or a generated `<dataset>_current`) over silver, run by polars."""

import time

import dagster as dg
from dagster_aws.s3 import S3Resource

from elt_assets.defs.automation import after_checked_upstream
from elt_assets.defs.datasets.assets import arrow_table_schema, gate_silver, silver_key
from elt_assets.defs.partitions import DAILY
from elt_assets.defs.resources import PipelineResource
from elt_assets.lib.models import Model
from lambda_bridge.contracts import ContractRegistry


def model_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["gold", name])


def _dep(layer: str, name: str, model: Model) -> dg.AssetDep:
    """What partition D of the model reads: D (or D-6..D for a 7-day window) of a silver
    dataset or gold model, every partition of a reference dataset."""
    if layer == "ref":
        return dg.AssetDep(silver_key(name), partition_mapping=dg.AllPartitionMapping())
    key = silver_key(name) if layer == "silver" else model_key(name)
    if model.window_days == 1:
        return dg.AssetDep(key)
    mapping = dg.TimeWindowPartitionMapping(start_offset=-(model.window_days - 1), end_offset=0)
    return dg.AssetDep(key, partition_mapping=mapping)


def build_model_asset(
    model: Model, models: list[Model], registry: ContractRegistry
) -> dg.AssetsDefinition:
    """`gold/<model>`: partition D is the query over its inputs' partition D (or window), written
    as one Parquet file, `gold/<model>/dt=<D>/part-0.parquet`, in the silver bucket."""
    if model.kind == "current":
        contract = registry[model.dataset or ""]
        order = ", ".join(contract.order_by)
        description = (
            f"Of silver/{contract.name}'s partition, the newest record per "
            f"{', '.join(contract.primary_key)} (ordered by {order}), so a record corrected in a "
            "later file of the day replaces its earlier copy."
        )
        owners = list(contract.owners)
    else:
        description = model.description or f"The SQL model `{model.path.name}`."
        owners = sorted({o for name in model.upstream_datasets for o in registry[name].owners})
    description += f" Written to `gold/{model.name}/dt=<D>/part-0.parquet`."
    group = model.dataset if model.kind == "current" else "gold_models"

    @dg.asset(
        key=model_key(model.name),
        deps=[_dep(layer, name, model) for layer, name in model.deps],
        partitions_def=DAILY,
        group_name=group,
        owners=owners,
        kinds={"gold", "polars", "parquet"},
        tags={"elt/model": model.kind},
        description=description,
        automation_condition=after_checked_upstream(
            whole_history=[silver_key(name) for layer, name in model.deps if layer == "ref"]
        ),
    )
    def gold_model(
        context: dg.AssetExecutionContext, pipeline: PipelineResource, s3: S3Resource
    ) -> dg.MaterializeResult:
        from elt_assets.lib.models import S3Tables, run_model, write_model_output

        started = time.perf_counter()
        client, day = s3.get_client(), context.partition_key
        # The model's day is made only from silver days whose checks pass.
        for name in model.upstream_datasets:
            gate_silver(context, registry[name], pipeline, client, day)
        tables = S3Tables(client, pipeline.silver_bucket, registry, models)
        table = run_model(model, day, tables, registry)
        key = write_model_output(client, pipeline.silver_bucket, model.name, day, table)
        head = client.head_object(Bucket=pipeline.silver_bucket, Key=key)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": table.num_rows,
                "dagster/column_schema": arrow_table_schema(table.schema),
                "bytes": int(head["ContentLength"]),
                "seconds": round(time.perf_counter() - started, 3),
                "path": dg.MetadataValue.path(f"s3://{pipeline.silver_bucket}/{key}"),
            }
        )

    return gold_model
