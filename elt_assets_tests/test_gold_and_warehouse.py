"""Gold models and the warehouse through Dagster: silver on a moto server, the models run by
polars, the loads into a real PostgreSQL server (never SQLite, never a mock)."""

import io
import json
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import dagster as dg
import psycopg
import pyarrow.parquet as pq
import pytest

from elt_assets.cli.samples import generate
from elt_assets.definitions import defs as load_definitions
from elt_assets.defs.datasets.assets import silver_key
from elt_assets.lib.state import partition_table

from .test_cli import run

pytestmark = pytest.mark.e2e
DAY = "2026-01-05"


@pytest.fixture
def env(stack, warehouse_url, monkeypatch):
    for key, value in {**stack.env(), "ELT_WAREHOUSE_URL": warehouse_url}.items():
        monkeypatch.setenv(key, value)
    return stack


@pytest.fixture
def defs(env):
    return load_definitions()


@pytest.fixture
def instance(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        yield inst


def put(stack, dataset: str, name: str, data: bytes, day: str = DAY) -> None:
    key = f"bronze/{dataset}/dt={day}/{name}"
    stack.client("s3").put_object(Bucket=stack.settings.bronze_bucket, Key=key, Body=data)


def materialize(defs, instance, keys: list[str], day: str = DAY, checks: bool = True):
    repo = defs.get_repository_def()
    selection = {dg.AssetKey.from_user_string(k) for k in keys}
    check_keys = set()
    if checks:
        silver = [k for k in selection if k.path[0] == "silver"]
        check_keys = set(repo.asset_graph.get_check_keys_for_assets(silver))
    job = repo.get_implicit_global_asset_job_def().get_subset(
        asset_selection=selection, asset_check_selection=check_keys
    )
    return job.execute_in_process(partition_key=day, instance=instance, raise_on_error=False)


def query(url: str, sql: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def gold_file(stack, model: str, day: str = DAY):
    body = (
        stack.client("s3")
        .get_object(
            Bucket=stack.settings.silver_bucket, Key=f"gold/{model}/dt={day}/part-0.parquet"
        )["Body"]
        .read()
    )
    return pq.read_table(io.BytesIO(body))


def test_silver_and_a_model_reach_the_warehouse_once_however_often_loaded(
    env, defs, instance, warehouse_url, registry
):
    shipments = generate("shipments", count=120, seed=11).data
    put(env, "shipments", "a.jsonl", shipments)
    keys = ["silver/shipments", "gold/shipments_by_carrier", "warehouse/shipments",
            "warehouse/shipments_by_carrier", "gold/shipments_current"]  # fmt: skip
    result = materialize(defs, instance, keys)
    assert result.success

    silver = partition_table(
        env.client("s3"), env.settings.silver_bucket, registry["shipments"], DAY
    ).to_pylist()
    assert len(silver) == 120
    # warehouse/shipments: exactly silver's rows, in PostgreSQL types.
    rows = query(warehouse_url, "SELECT shipment_id, weight_kg, _line FROM silver.shipments")
    assert sorted(rows, key=str) == sorted(
        ((r["shipment_id"], r["weight_kg"], r["_line"]) for r in silver), key=str
    )
    types = dict(query(warehouse_url, "SELECT column_name, data_type FROM "
                 "information_schema.columns WHERE table_schema = 'silver'"))  # fmt: skip
    assert types["dt"] == "date" and types["event_time"] == "timestamp with time zone"
    # gold/shipments_by_carrier: the model's aggregate, in S3 and in the warehouse.
    expected = Counter(r["carrier"] for r in silver)
    by_carrier = gold_file(env, "shipments_by_carrier").to_pylist()
    assert {r["carrier"]: r["shipments"] for r in by_carrier} == dict(expected)
    loaded = query(
        warehouse_url, "SELECT carrier, shipments, dt::text FROM gold.shipments_by_carrier"
    )
    assert {(c, n) for c, n, _ in loaded} == set(expected.items())
    assert {d for _, _, d in loaded} == {DAY}
    # The UI's numbers: row count and the model's columns on its materialization.
    event = instance.get_latest_materialization_event(dg.AssetKey(["gold", "shipments_by_carrier"]))
    metadata = event.asset_materialization.metadata
    assert metadata["dagster/row_count"].value == len(expected)
    schema = metadata["dagster/column_schema"].value
    assert [c.name for c in schema.columns] == ["carrier", "shipments", "total_kg"]

    # Loading again (a replay of the same day) leaves the same rows.
    before = query(warehouse_url, "SELECT count(*) FROM silver.shipments")
    assert materialize(defs, instance, keys).success
    assert query(warehouse_url, "SELECT count(*) FROM silver.shipments") == before == [(120,)]
    assert len(query(warehouse_url, "SELECT * FROM gold.shipments_by_carrier")) == len(expected)

    # `elt sql` prints the warehouse's answer as a table.
    code, out, err = run(
        "sql", "SELECT carrier, sum(shipments) AS n FROM gold.shipments_by_carrier GROUP BY 1"
    )
    assert code == 0, err
    for carrier, n in expected.items():
        assert any(line.split() == [*carrier.split(), str(n)] for line in out.splitlines()), out
    assert f"{len(expected)} row(s)" in out


def test_current_keeps_the_newest_record_per_key_across_files_of_the_day(env, defs, instance):
    first = json.loads(generate("shipments", count=1, seed=3).data)
    corrected = {**first, "weight_kg": 99.5}
    other = {**first, "shipment_id": "shp_other"}
    put(env, "shipments", "1.jsonl", json.dumps(first).encode())
    assert materialize(defs, instance, ["silver/shipments"]).success
    put(env, "shipments", "2.jsonl", b"\n".join(json.dumps(r).encode() for r in (corrected, other)))
    result = materialize(defs, instance, ["silver/shipments", "gold/shipments_current"])
    assert result.success
    rows = {r["shipment_id"]: r for r in gold_file(env, "shipments_current").to_pylist()}
    assert set(rows) == {first["shipment_id"], "shp_other"}
    assert rows[first["shipment_id"]]["weight_kg"] == 99.5
    assert rows[first["shipment_id"]]["_source_key"].endswith("/2.jsonl")


def test_transactions_are_enriched_with_fx_rates_and_merchants(env, defs, instance):
    put(env, "fx_rates", "rates.jsonl", generate("fx_rates", count=20, day=_day()).data)
    put(env, "merchants", "merchants.jsonl", generate("merchants", count=12).data)
    put(env, "transactions", "t.csv", generate("transactions", "csv", 60, seed=8, day=_day()).data)
    keys = ["silver/fx_rates", "silver/merchants", "silver/transactions",
            "gold/transactions_enriched"]  # fmt: skip
    assert materialize(defs, instance, keys).success

    rates = {
        (r["rate_date"].isoformat(), r["currency"]): r["usd_per_unit"]
        for r in _silver(env, "fx_rates")
    }
    merchants = {r["merchant"]: r["category"] for r in _silver(env, "merchants")}
    enriched = {r["transaction_id"]: r for r in gold_file(env, "transactions_enriched").to_pylist()}
    transactions = _silver(env, "transactions")
    assert set(enriched) == {t["transaction_id"] for t in transactions}
    for t in transactions:
        row = enriched[t["transaction_id"]]
        rate = rates[(t["booked_at"].date().isoformat(), t["currency"])]
        expected = (t["amount"] * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert row["amount_usd"] == expected, t
        assert row["merchant_category"] == merchants[t["merchant"]]


def test_a_failing_silver_check_keeps_its_day_out_of_gold_models_and_the_warehouse(
    env, defs, instance, warehouse_url
):
    record = json.loads(generate("shipments", count=1, seed=5).data)
    record["weight_kg"] = -3.0  # the contract expects 0..30000
    put(env, "shipments", "bad.jsonl", json.dumps(record).encode())
    assert materialize(defs, instance, ["silver/shipments"], checks=False).success
    # As the UI launches them from their pages: the loads alone, without silver's checks.
    for key in ("warehouse/shipments", "gold/shipments_by_carrier"):
        result = materialize(defs, instance, [key], checks=False)
        assert not result.success
        (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        message = failure.step_failure_data.user_failure_data.description
        assert "expectations: expect_column_values_to_be_between on weight_kg" in message
    assert query(warehouse_url, "SELECT to_regclass('silver.shipments')") == [(None,)]
    assert instance.get_latest_materialization_event(silver_key("shipments")) is not None
    assert (
        instance.get_latest_materialization_event(dg.AssetKey(["gold", "shipments_by_carrier"]))
        is None
    )


def _day():
    import datetime as dt

    return dt.date.fromisoformat(DAY)


def _silver(stack, dataset: str):
    from lambda_bridge.contracts import ContractRegistry

    contract = ContractRegistry.load()[dataset]
    return partition_table(
        stack.client("s3"), stack.settings.silver_bucket, contract, DAY
    ).to_pylist()
