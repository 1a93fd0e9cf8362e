"""The quality gate: blocking, per-partition checks on every silver asset.

Built-in checks (conservation, quarantine rate, schema) plus the contract's Great Expectations
suite. Great Expectations is imported inside the check (by elt_assets.lib.expectations), never at
code-location load.
"""

import datetime as dt
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from elt_assets.defs.datasets.assets import silver_key
from elt_assets.defs.partitions import DAILY
from elt_assets.defs.resources import PipelineResource
from elt_assets.lib.replay import iter_bronze_objects
from elt_assets.lib.state import partition_manifests, partition_totals, read_silver_files
from lambda_bridge.contracts import Contract

# An object this young may still be on its way through the queue: not missing yet.
IN_FLIGHT_GRACE = dt.timedelta(minutes=15)
SAMPLE = 5


def conservation_result(
    contract: Contract,
    manifests: list[dict[str, Any]],
    bronze: list[dict[str, Any]],
    silver_rows: dict[str, int],
    now: dt.datetime,
) -> dg.AssetCheckResult:
    """Every bronze object has a manifest, every manifest balances, and the files agree."""
    unbalanced = [
        m["source"]["key"]
        for m in manifests
        if m["lines_in"] != m["rows_out"] + m["rows_quarantined"]
    ]
    wrong_files = [
        m["silver_key"]
        for m in manifests
        if m.get("silver_key") and silver_rows.get(m["silver_key"]) != m["rows_out"]
    ]
    processed = {m["source"]["key"] for m in manifests}
    missing, in_flight = [], []
    for item in bronze:
        if item["Key"] in processed:
            continue
        (in_flight if now - item["LastModified"] < IN_FLIGHT_GRACE else missing).append(item["Key"])
    lines_in = sum(m["lines_in"] for m in manifests)
    accounted = sum(m["rows_out"] + m["rows_quarantined"] for m in manifests)
    return dg.AssetCheckResult(
        passed=not (unbalanced or wrong_files or missing),
        metadata={
            "objects": len(manifests),
            "lines_in": lines_in,
            "rows_out_plus_quarantined": accounted,
            "unbalanced_objects": len(unbalanced),
            "missing_manifests": len(missing),
            "in_flight": len(in_flight),
            "silver_files_disagreeing": len(wrong_files),
            "sample": dg.MetadataValue.json((unbalanced + missing + wrong_files)[:SAMPLE]),
        },
        description=None
        if not (unbalanced or wrong_files or missing)
        else (
            f"{len(missing)} bronze objects without a manifest, {len(unbalanced)} manifests where "
            f"lines_in != rows_out + rows_quarantined, {len(wrong_files)} silver files whose row "
            "count differs from their manifest"
        ),
    )


def build_checks(contract: Contract) -> list[dg.AssetChecksDefinition]:
    name = contract.name
    asset = silver_key(name)

    @dg.asset_check(asset=asset, name="conservation", blocking=True, partitions_def=DAILY,
                    description="Every bronze object of the day has a manifest and lines_in = rows_out + rows_quarantined.")  # fmt: skip
    def conservation(
        context: dg.AssetCheckExecutionContext, pipeline: PipelineResource, s3: S3Resource
    ) -> dg.AssetCheckResult:
        client = s3.get_client()
        day = context.partition_key
        manifests = partition_manifests(client, pipeline.silver_bucket, name, day)
        bronze = list(iter_bronze_objects(client, pipeline.bronze_bucket, contract, day))
        rows = {
            key: table.num_rows
            for key, table in read_silver_files(client, pipeline.silver_bucket, manifests)
        }
        return conservation_result(contract, manifests, bronze, rows, dt.datetime.now(dt.UTC))

    @dg.asset_check(asset=asset, name="quarantine_rate", blocking=True, partitions_def=DAILY,
                    description=f"Quarantined lines stay at or below {contract.max_quarantine_rate:.1%} of the day's lines.")  # fmt: skip
    def quarantine_rate(
        context: dg.AssetCheckExecutionContext, pipeline: PipelineResource, s3: S3Resource
    ) -> dg.AssetCheckResult:
        manifests = partition_manifests(
            s3.get_client(), pipeline.silver_bucket, name, context.partition_key
        )
        totals = partition_totals(manifests)
        lines, bad, by_code = (
            totals["lines_in"],
            totals["rows_quarantined"],
            totals["quarantine_by_code"],
        )
        rate = bad / lines if lines else 0.0
        passed = rate <= contract.max_quarantine_rate
        return dg.AssetCheckResult(
            passed=passed,
            metadata={
                "quarantine_rate": round(rate, 6),
                "threshold": contract.max_quarantine_rate,
                "rows_quarantined": bad,
                "lines_in": lines,
                "by_reason": dg.MetadataValue.json(dict(sorted(by_code.items()))),
            },
            description=None
            if passed
            else f"{rate:.2%} of lines quarantined, above {contract.max_quarantine_rate:.2%}",
        )

    @dg.asset_check(asset=asset, name="schema", blocking=True, partitions_def=DAILY,
                    description="Every silver file of the day has exactly the contract's Arrow schema.")  # fmt: skip
    def schema(
        context: dg.AssetCheckExecutionContext, pipeline: PipelineResource, s3: S3Resource
    ) -> dg.AssetCheckResult:
        client = s3.get_client()
        manifests = partition_manifests(client, pipeline.silver_bucket, name, context.partition_key)
        expected = contract.silver_schema
        wrong = [key for key, table in read_silver_files(client, pipeline.silver_bucket, manifests)
                 if not table.schema.remove_metadata().equals(expected)]  # fmt: skip
        return dg.AssetCheckResult(
            passed=not wrong,
            metadata={
                "files": sum(1 for m in manifests if m.get("silver_key")),
                "files_with_other_schema": len(wrong),
                "sample": dg.MetadataValue.json(wrong[:SAMPLE]),
                "expected": str(expected),
            },
            description=None
            if not wrong
            else f"{len(wrong)} silver files do not have the contract's schema",
        )

    @dg.asset_check(asset=asset, name="expectations", blocking=True, partitions_def=DAILY,
                    description="The contract's Great Expectations suite: " + ", ".join(c.expectation for c in contract.checks))  # fmt: skip
    def expectations(
        context: dg.AssetCheckExecutionContext, pipeline: PipelineResource, s3: S3Resource
    ) -> dg.AssetCheckResult:
        import pyarrow as pa

        from elt_assets.lib.expectations import run_expectations

        client = s3.get_client()
        manifests = partition_manifests(client, pipeline.silver_bucket, name, context.partition_key)
        tables = [
            table for _, table in read_silver_files(client, pipeline.silver_bucket, manifests)
        ]
        table = pa.concat_tables(tables) if tables else contract.silver_schema.empty_table()
        outcomes = run_expectations(table.to_pandas(), contract)
        failed = [o for o in outcomes if not o.success]
        metadata: dict[str, Any] = {
            "rows": table.num_rows,
            "expectations": len(outcomes),
            "failed_expectations": len(failed),
            "results": dg.MetadataValue.json([o.to_dict() for o in outcomes]),
        }
        for o in failed:
            metadata[f"failed: {o.expectation}({o.kwargs.get('column', '')})"] = (
                dg.MetadataValue.json(
                    {"unexpected_count": o.unexpected_count, "sample": o.sample, "error": o.error}
                )
            )
        description = None
        if failed:
            description = "; ".join(
                f"{o.expectation} on {o.kwargs.get('column', o.kwargs)}: {o.unexpected_count} rows"
                for o in failed
            )
        return dg.AssetCheckResult(passed=not failed, metadata=metadata, description=description)

    return [conservation, quarantine_rate, schema, expectations]
