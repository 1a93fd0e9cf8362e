"""warehouse/<table>: a silver dataset or gold model loaded into PostgreSQL, a partition at a time."""

import dagster as dg
from dagster_aws.s3 import S3Resource

from elt_assets.defs.automation import after_checked_upstream
from elt_assets.defs.datasets.assets import gate_silver, silver_key
from elt_assets.defs.models.assets import model_key
from elt_assets.defs.partitions import DAILY
from elt_assets.defs.resources import PipelineResource, WarehouseResource
from elt_assets.lib.models import Model
from lambda_bridge.contracts import Contract

SILVER_SCHEMA = "silver"
GOLD_SCHEMA = "gold"


def warehouse_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", table])


def table_schema(contract: Contract) -> dg.TableSchema:
    """The warehouse table as the UI shows it: `dt`, then silver's columns in PostgreSQL types."""
    from elt_assets.lib.pg_types import pg_type

    return dg.TableSchema(
        columns=[
            dg.TableColumn("dt", "date", constraints=dg.TableColumnConstraints(nullable=False)),
            *(
                dg.TableColumn(
                    field.name,
                    pg_type(field.type),
                    constraints=dg.TableColumnConstraints(nullable=field.nullable),
                )
                for field in contract.silver_schema
            ),
        ]
    )


def build_silver_load(contract: Contract) -> dg.AssetsDefinition:
    """`warehouse/<dataset>`: silver partition D replaces day D of `silver.<dataset>`."""
    name = contract.name

    @dg.asset(
        key=warehouse_key(name),
        deps=[silver_key(name)],
        partitions_def=DAILY,
        automation_condition=after_checked_upstream(),
        group_name=name,
        owners=list(contract.owners),
        kinds={"postgres", "silver"},
        metadata={
            "dagster/column_schema": table_schema(contract),
            "dagster/table_name": f"{SILVER_SCHEMA}.{name}",
        },
        description=(
            f"`silver.{name}` in the PostgreSQL warehouse (`ELT_WAREHOUSE_URL`): a partition "
            "replaces its day in one transaction (readers see the old day or the new one), bulk "
            "loaded through Arrow; loading again leaves the same rows. Not loaded from a day whose "
            "silver checks fail."
        ),
    )
    def load(
        context: dg.AssetExecutionContext,
        pipeline: PipelineResource,
        s3: S3Resource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        from elt_assets.lib.state import partition_table
        from elt_assets.lib.warehouse import load_partition

        client, day = s3.get_client(), context.partition_key
        gate_silver(context, contract, pipeline, client, day)
        table = partition_table(client, pipeline.silver_bucket, contract, day)
        result = load_partition(warehouse.get_url(), SILVER_SCHEMA, name, day, table)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "seconds": round(result.seconds, 3),
            }
        )

    return load


def build_model_load(model: Model) -> dg.AssetsDefinition:
    """`warehouse/<model>`: gold partition D replaces day D of `gold.<model>`."""
    name = model.name

    @dg.asset(
        key=warehouse_key(name),
        deps=[model_key(name)],
        partitions_def=DAILY,
        automation_condition=after_checked_upstream(),
        group_name="warehouse",
        kinds={"postgres", "gold"},
        metadata={"dagster/table_name": f"{GOLD_SCHEMA}.{name}"},
        description=(
            f"`gold.{name}` in the PostgreSQL warehouse: gold/{name}'s partition replaces its day "
            "in one transaction, bulk loaded through Arrow; loading again leaves the same rows."
        ),
    )
    def load(
        context: dg.AssetExecutionContext,
        pipeline: PipelineResource,
        s3: S3Resource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        import io

        import pyarrow.parquet as pq

        from elt_assets.lib.models import gold_model_key
        from elt_assets.lib.warehouse import load_partition
        from lambda_bridge.storage import is_missing

        client, day = s3.get_client(), context.partition_key
        key = gold_model_key(name, day)
        try:
            body = client.get_object(Bucket=pipeline.silver_bucket, Key=key)["Body"].read()
        except client.exceptions.ClientError as exc:
            if not is_missing(exc):
                raise
            msg = f"gold/{name} dt={day} has not been made (s3://{pipeline.silver_bucket}/{key})"
            raise dg.Failure(description=msg, allow_retries=False) from None
        table = pq.read_table(io.BytesIO(body))
        result = load_partition(warehouse.get_url(), GOLD_SCHEMA, name, day, table)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": result.rows, "seconds": round(result.seconds, 3)}
        )

    return load
