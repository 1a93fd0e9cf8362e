"""The quality gate: blocking, per-partition checks on every silver asset.

Built-in checks (conservation, quarantine rate, schema) plus the contract's Great Expectations
suite, run together by one multi-asset check per dataset so that a partition's files are read
once for all four. Great Expectations is imported inside the check (by elt_assets.lib.expectations), never at
code-location load.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError
from dagster_aws.s3 import S3Resource

from elt_assets.defs.datasets.assets import silver_key
from elt_assets.defs.partitions import DAILY
from elt_assets.defs.resources import PipelineResource, SNSResource
from elt_assets.lib.replay import iter_bronze_objects
from elt_assets.lib.state import (
    complete_objects,
    partition_manifests,
    partition_totals,
    read_silver_files,
)
from lambda_bridge.contracts import Contract
from lambda_bridge.keys import manifest_prefix

# An object this young may still be on its way through the queue: not missing yet.
IN_FLIGHT_GRACE = dt.timedelta(minutes=15)
SAMPLE = 5
CHECK_NAMES = ("conservation", "quarantine_rate", "schema", "expectations", "volume")


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
    # A split object counts once, and only when every chunk has landed.
    processed = complete_objects(manifests)
    missing, in_flight = [], []
    for item in bronze:
        if item["Key"] in processed:
            continue
        (in_flight if now - item["LastModified"] < IN_FLIGHT_GRACE else missing).append(item["Key"])
    lines_in = sum(m["lines_in"] for m in manifests)
    accounted = sum(m["rows_out"] + m["rows_quarantined"] for m in manifests)
    return dg.AssetCheckResult(
        check_name="conservation",
        passed=not (unbalanced or wrong_files or missing),
        metadata={
            "objects": len({m["source"]["key"] for m in manifests}),
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


def quarantine_rate_result(
    contract: Contract, manifests: list[dict[str, Any]]
) -> dg.AssetCheckResult:
    """The day's quarantined share of lines stays at or below the contract's limit."""
    totals = partition_totals(manifests)
    lines, bad = totals["lines_in"], totals["rows_quarantined"]
    rate = bad / lines if lines else 0.0
    passed = rate <= contract.max_quarantine_rate
    return dg.AssetCheckResult(
        check_name="quarantine_rate",
        passed=passed,
        metadata={
            "quarantine_rate": round(rate, 6),
            "threshold": contract.max_quarantine_rate,
            "rows_quarantined": bad,
            "lines_in": lines,
            "by_reason": dg.MetadataValue.json(totals["quarantine_by_code"]),
        },
        description=None
        if passed
        else f"{rate:.2%} of lines quarantined, above {contract.max_quarantine_rate:.2%}",
    )


def schema_result(contract: Contract, files: list[tuple[str, Any]]) -> dg.AssetCheckResult:
    """Every silver file of the day has exactly the contract's Arrow schema."""
    expected = contract.silver_schema
    wrong = [key for key, table in files if not table.schema.remove_metadata().equals(expected)]
    return dg.AssetCheckResult(
        check_name="schema",
        passed=not wrong,
        metadata={
            "files": len(files),
            "files_with_other_schema": len(wrong),
            "sample": dg.MetadataValue.json(wrong[:SAMPLE]),
            "expected": str(expected),
        },
        description=None
        if not wrong
        else f"{len(wrong)} silver files do not have the contract's schema",
    )


def expectations_result(contract: Contract, files: list[tuple[str, Any]]) -> dg.AssetCheckResult:
    """The contract's Great Expectations suite over the day's rows."""
    import pyarrow as pa

    from elt_assets.lib.expectations import run_expectations

    tables = [table for _, table in files]
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
        metadata[f"failed: {o.expectation}({o.kwargs.get('column', '')})"] = dg.MetadataValue.json(
            {"unexpected_count": o.unexpected_count, "sample": o.sample, "error": o.error}
        )
    description = None
    if failed:
        description = "; ".join(
            f"{o.expectation} on {o.kwargs.get('column', o.kwargs)}: {o.unexpected_count} rows"
            for o in failed
        )
    return dg.AssetCheckResult(
        check_name="expectations", passed=not failed, metadata=metadata, description=description
    )


def volume_result(
    contract: Contract, manifests: list[dict[str, Any]], objects_day_before: int
) -> dg.AssetCheckResult:
    """A day with no data, after a day that had some, is a failure: a producer stopped.

    Blocking and per partition (not a freshness check): the day's gold stays unmade, and the
    report shows which day went empty, not only that the latest data is old.
    """
    objects = len({m["source"]["key"] for m in manifests})
    silent = objects == 0 and objects_day_before > 0
    passed = not silent or not contract.expect_daily_data
    description = None
    if silent:
        description = f"no objects arrived this day, after {objects_day_before} the day before" + (
            "" if contract.expect_daily_data else " (allowed: quality.expect_daily_data is false)"
        )
    return dg.AssetCheckResult(
        check_name="volume",
        passed=passed,
        metadata={
            "objects": objects,
            "rows_out": sum(m["rows_out"] for m in manifests),
            "objects_day_before": objects_day_before,
            "expect_daily_data": contract.expect_daily_data,
        },
        description=description,
    )


def _objects_on(s3: Any, silver_bucket: str, dataset: str, day: str) -> int:
    """Whether a partition has any manifest (0 or 1): one LIST, no reads."""
    listed = s3.list_objects_v2(
        Bucket=silver_bucket, Prefix=manifest_prefix(dataset, day), MaxKeys=1
    )
    return int(listed.get("KeyCount", 0))


def evaluate(
    contract: Contract,
    pipeline: PipelineResource,
    client: Any,
    day: str,
    selected: set[str],
    manifests: list[dict[str, Any]] | None = None,
) -> Iterator[dg.AssetCheckResult]:
    """The `selected` silver checks of one partition, reading its files once."""
    if manifests is None:
        manifests = partition_manifests(client, pipeline.silver_bucket, contract.name, day)
    needs_files = selected & {"conservation", "schema", "expectations"}
    files = read_silver_files(client, pipeline.silver_bucket, manifests) if needs_files else []
    if "conservation" in selected:
        bronze = list(iter_bronze_objects(client, pipeline.bronze_bucket, contract, day))
        rows = {key: table.num_rows for key, table in files}
        yield conservation_result(contract, manifests, bronze, rows, dt.datetime.now(dt.UTC))
    if "quarantine_rate" in selected:
        yield quarantine_rate_result(contract, manifests)
    if "schema" in selected:
        yield schema_result(contract, files)
    if "expectations" in selected:
        yield expectations_result(contract, files)
    if "volume" in selected:
        before = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
        objects_before = _objects_on(client, pipeline.silver_bucket, contract.name, before)
        yield volume_result(contract, manifests, objects_before)


def announce(
    context: Any,
    contract: Contract,
    pipeline: PipelineResource,
    client: Any,
    sns: SNSResource,
    day: str,
    manifests: list[dict[str, Any]],
    results: list[dg.AssetCheckResult],
) -> None:
    """`partition_ready` on the events topic when every blocking check of a day with data ran
    and passed (a run of some checks only says nothing); once per state of the partition."""
    from elt_assets.lib.events import partition_ready_event, publish_partition_ready

    topic = sns.events_topic()
    outcomes = {str(r.check_name): r.passed for r in results}
    if not topic or set(outcomes) != set(CHECK_NAMES) or not all(outcomes.values()):
        return
    if not manifests:
        return  # a day nothing arrived is not news (the volume check says when it should be)
    event = partition_ready_event(
        contract.name, day, manifests, outcomes, context.run.run_id, pipeline.silver_bucket
    )
    try:
        sent = publish_partition_ready(
            sns.get_client(), client, topic, pipeline.silver_bucket, event, manifests
        )
    except (ClientError, BotoCoreError) as exc:
        # The checks stand; the state is not recorded, so the next passing run publishes.
        context.log.warning(f"partition_ready for {contract.name} dt={day} not published: {exc}")
        return
    if sent:
        context.log.info(f"published partition_ready for {contract.name} dt={day}")


def build_checks(contract: Contract) -> list[dg.AssetChecksDefinition]:
    """The blocking checks of `silver/<dataset>`, as one multi-asset check."""
    asset = silver_key(contract.name)
    descriptions = {
        "conservation": "Every bronze object of the day has a manifest and lines_in = rows_out + rows_quarantined.",
        "quarantine_rate": f"Quarantined lines stay at or below {contract.max_quarantine_rate:.1%} of the day's lines.",
        "schema": "Every silver file of the day has exactly the contract's Arrow schema.",
        "volume": "Data arrived this day, if it arrived the day before (contract: quality.expect_daily_data).",
        "expectations": "The contract's Great Expectations suite: "
        + (", ".join(c.expectation for c in contract.checks) or "none"),
    }  # fmt: skip
    specs = [
        dg.AssetCheckSpec(
            name, asset=asset, blocking=True, partitions_def=DAILY, description=descriptions[name]
        )
        for name in CHECK_NAMES
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"{contract.name}_silver_checks",
        can_subset=True,
        description=f"The silver checks of {contract.name}: the partition's files are read once.",
    )
    def silver_checks(
        context: dg.AssetCheckExecutionContext,
        pipeline: PipelineResource,
        s3: S3Resource,
        sns: SNSResource,
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {key.name for key in context.selected_asset_check_keys}
        client, day = s3.get_client(), context.partition_key
        manifests = partition_manifests(client, pipeline.silver_bucket, contract.name, day)
        results = list(evaluate(contract, pipeline, client, day, selected, manifests))
        yield from results
        announce(context, contract, pipeline, client, sns, day, manifests, results)

    return [silver_checks]
