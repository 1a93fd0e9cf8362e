"""Gold SQL models: loading (deps, refusals), running with polars, reading and writing S3."""

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import boto3
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from elt_assets.cli.samples import CURRENCIES, FX_CURRENCIES, MERCHANTS, generate
from elt_assets.lib.models import (
    ModelError,
    S3Tables,
    current_models,
    empty_frame,
    gold_model_key,
    load_models,
    output_schema,
    run_model,
    window,
    write_model_output,
)
from lambda_bridge.contracts import ContractRegistry, contract_from_dict
from lambda_bridge.process import process_object

DAY = "2026-01-05"
BRONZE, SILVER = "models-bronze", "models-silver"
CONTRACTS = Path(__file__).parents[1] / "elt_assets" / "contracts"


@pytest.fixture(scope="module")
def registry() -> ContractRegistry:
    return ContractRegistry.load()


@pytest.fixture(scope="module")
def models(registry):
    return {m.name: m for m in load_models(None, registry)}


@pytest.fixture
def s3(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in (BRONZE, SILVER):
            client.create_bucket(Bucket=bucket)
        yield client


def land(s3, registry, dataset, data: bytes, name: str, day=DAY, ingested_at=None) -> str:
    """Put a bronze object and run the hot path's transform on it; returns the silver key."""
    ext = "csv" if registry[dataset].formats == ("csv",) else "jsonl"
    key = f"bronze/{dataset}/dt={day}/{name}.{ext}"
    s3.put_object(Bucket=BRONZE, Key=key, Body=data)
    now = ingested_at or dt.datetime.fromisoformat(f"{day}T12:00:00+00:00")
    outcome = process_object(s3, registry[dataset], SILVER, BRONZE, key, now=now)
    assert outcome.manifest is not None and outcome.manifest["rows_quarantined"] == 0
    return outcome.manifest["silver_key"]


def jsonl(records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def write_sql(folder: Path, name: str, sql: str) -> Path:
    path = folder / f"{name}.sql"
    path.write_text(sql)
    return path


# --- loading -------------------------------------------------------------------------------------


def test_the_example_models_load_in_dependency_order(models):
    assert {"shipments_by_carrier", "shipment_status", "transactions_enriched"} <= set(models)
    assert {f"{d}_current" for d in ("shipments", "tracking_events", "invoice_lines")} <= set(
        models
    )
    # Reference datasets are read whole by models; they get no `_current`.
    assert "fx_rates_current" not in models and "merchants_current" not in models
    enriched = models["transactions_enriched"]
    assert enriched.deps == (("ref", "fx_rates"), ("ref", "merchants"), ("silver", "transactions"))
    assert enriched.description.startswith("each transaction with its amount in USD")
    assert models["shipment_status"].window_days == 7
    assert models["shipments_by_carrier"].window_days == 1
    assert models["shipments_by_carrier"].description == "shipments and weight per carrier and day"


def test_deps_come_from_the_sql_with_ctes_joins_and_subqueries(tmp_path, registry):
    write_sql(
        tmp_path,
        "base",
        "SELECT shipment_id, carrier FROM silver.shipments",
    )
    write_sql(
        tmp_path,
        "wide",
        """-- wide: everything at once
        WITH recent AS (SELECT * FROM gold.base), scans AS (SELECT * FROM silver.tracking_events)
        SELECT r.carrier, s.status, fx.usd_per_unit
        FROM recent AS r
        JOIN scans AS s ON s.shipment_id = r.shipment_id
        LEFT JOIN ref.fx_rates AS fx ON fx.currency = 'EUR'
        WHERE r.shipment_id IN (SELECT shipment_id FROM silver.invoice_lines)
        UNION ALL
        SELECT carrier, NULL, NULL FROM gold.shipments_current""",
    )
    loaded = {m.name: m for m in load_models(tmp_path, registry)}
    assert loaded["wide"].deps == (
        ("gold", "base"),
        ("gold", "shipments_current"),
        ("ref", "fx_rates"),
        ("silver", "invoice_lines"),
        ("silver", "tracking_events"),
    )
    assert loaded["wide"].description == "everything at once"
    order = [m.name for m in load_models(tmp_path, registry)]
    assert order.index("base") < order.index("wide")
    assert order.index("shipments_current") < order.index("wide")


@pytest.mark.parametrize(
    ("name", "sql", "problem"),
    [
        ("broken", "SELECT carrier FROM silver.shipments WHERE (", "SQL syntax error"),
        ("unterminated", "SELECT 'oops FROM silver.shipments", "SQL syntax error"),
        ("two", "SELECT 1 FROM silver.shipments; SELECT 2 FROM silver.shipments", "2 statements"),
        ("empty", "-- empty: nothing here\n", "found 0 statements"),
        ("writes", "INSERT INTO silver.shipments VALUES (1)", "found INSERT"),
        ("drops", "DROP TABLE silver.shipments", "found DROP"),
        ("unknown", "SELECT * FROM silver.parcels", "unknown table 'silver.parcels'"),
        ("noref", "SELECT * FROM ref.currencies", "unknown table 'ref.currencies'"),
        ("wrongref", "SELECT * FROM ref.shipments", "read it as silver.shipments"),
        ("wrongsilver", "SELECT * FROM silver.fx_rates", "read it as ref.fx_rates"),
        ("nogold", "SELECT * FROM gold.nothing_here", "unknown table 'gold.nothing_here'"),
        ("bare", "SELECT * FROM shipments", "unqualified table 'shipments'"),
        ("layer", "SELECT * FROM bronze.shipments", "in no layer"),
        ("deep", "SELECT * FROM db.silver.shipments", "too many parts"),
        ("func", "SELECT * FROM read_parquet('x.parquet')", "is not a table"),
        ("window", "-- window: 7\nSELECT * FROM silver.shipments", "header 'window'"),
        ("zero", "-- window: 0d\nSELECT * FROM silver.shipments", "header 'window'"),
        ("shipments_current", "SELECT * FROM silver.shipments", "generated model"),
        ("shipments_daily", "SELECT * FROM silver.shipments", "daily summary"),
        ("Bad-Name", "SELECT * FROM silver.shipments", "model name 'Bad-Name'"),
    ],
)
def test_a_bad_model_is_refused_with_its_file_named(tmp_path, registry, name, sql, problem):
    path = write_sql(tmp_path, name, sql)
    with pytest.raises(ModelError) as info:
        load_models(tmp_path, registry)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_a_cte_name_is_not_a_table_but_only_where_it_is_unqualified(tmp_path, registry):
    write_sql(
        tmp_path, "ok", "WITH shipments AS (SELECT * FROM silver.shipments) SELECT * FROM shipments"
    )
    assert {m.name for m in load_models(tmp_path, registry)} >= {"ok"}
    # A CTE does not make `silver.<cte>` a dataset.
    write_sql(tmp_path, "bad", "WITH parcels AS (SELECT 1 AS x) SELECT * FROM silver.parcels")
    with pytest.raises(ModelError, match=r"bad\.sql: unknown table 'silver\.parcels'"):
        load_models(tmp_path, registry)


def test_a_cycle_is_refused_and_named(tmp_path, registry):
    write_sql(tmp_path, "a", "SELECT * FROM gold.b")
    write_sql(tmp_path, "b", "SELECT * FROM gold.c JOIN silver.shipments USING (shipment_id)")
    write_sql(tmp_path, "c", "SELECT * FROM gold.a")
    with pytest.raises(ModelError) as info:
        load_models(tmp_path, registry)
    text = str(info.value)
    assert "cycle" in text and str(tmp_path) in text
    for edge in ("gold.a -> gold.b", "gold.b -> gold.c", "gold.c -> gold.a"):
        assert edge in text


def test_a_model_reading_itself_is_a_cycle(tmp_path, registry):
    path = write_sql(tmp_path, "selfish", "SELECT * FROM gold.selfish")
    with pytest.raises(ModelError, match=r"gold\.selfish -> gold\.selfish") as info:
        load_models(tmp_path, registry)
    assert str(path) in str(info.value)


def test_the_models_folder_comes_from_the_environment(tmp_path, registry, monkeypatch):
    write_sql(tmp_path, "only_here", "SELECT carrier FROM silver.shipments")
    monkeypatch.setenv("ELT_MODELS_DIR", str(tmp_path))
    names = {m.name for m in load_models(registry=registry)}
    assert "only_here" in names and "shipments_by_carrier" not in names
    monkeypatch.setenv("ELT_MODELS_DIR", str(tmp_path / "missing"))
    with pytest.raises(ModelError, match="does not exist"):
        load_models(registry=registry)


def test_importing_the_library_loads_neither_dagster_nor_polars_nor_sqlglot():
    code = (
        "import sys, elt_assets.lib.models; "
        "print(sorted(m for m in ('dagster', 'polars', 'sqlglot') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


# --- `<dataset>_current` ------------------------------------------------------------------------


def silver_table(contract, rows: list[dict]) -> pa.Table:
    """Silver rows as the transform writes them: the given fields, then lineage defaults."""
    full = [
        {
            **{c.name: None for c in contract.columns},
            "_source_version": "null",
            "_line": 1,
            **row,
        }
        for row in rows
    ]
    return pa.Table.from_pylist(full, schema=contract.silver_schema)


def shipment(sid: str, carrier: str, kg: float, source: str, line: int, at: dt.datetime) -> dict:
    return {
        "record_type": "shipments",
        "event_time": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        "shipment_id": sid,
        "origin": "SZX",
        "destination": "SEA",
        "carrier": carrier,
        "weight_kg": kg,
        "_source_key": source,
        "_line": line,
        "_ingested_at": at,
    }


def frames_reader(tables: dict[tuple[str, str], list[pa.Table]], registry):
    """A `read_table` over in-memory files; records what it was asked for."""
    asked: list[tuple[str, str, tuple | None]] = []

    def read(layer, name, days):
        asked.append((layer, name, tuple(days) if days is not None else None))
        files = tables.get((layer, name), [])
        if not files:
            return empty_frame(registry[name].silver_schema)
        return pl.concat([pl.from_arrow(t) for t in files]).lazy()

    read.asked = asked  # type: ignore[attr-defined]
    return read


def at(minute: int) -> dt.datetime:
    return dt.datetime(2026, 1, 5, 8, minute, tzinfo=dt.UTC)


def test_current_keeps_exactly_the_newest_record_per_key_across_files(registry, models):
    contract = registry["shipments"]
    early = silver_table(
        contract,
        [
            shipment("shp_a", "UPS", 1.0, "bronze/shipments/a.jsonl", 1, at(0)),
            shipment("shp_b", "DHL", 2.0, "bronze/shipments/a.jsonl", 2, at(0)),
        ],
    )
    late = silver_table(
        contract,
        [
            shipment("shp_a", "FedEx", 10.0, "bronze/shipments/b.jsonl", 1, at(30)),
            shipment("shp_c", "USPS", 3.0, "bronze/shipments/b.jsonl", 2, at(30)),
        ],
    )
    read = frames_reader({("silver", "shipments"): [late, early]}, registry)
    out = run_model(models["shipments_current"], DAY, read, registry)
    assert out.schema == contract.silver_schema
    rows = out.select(["shipment_id", "carrier", "weight_kg"]).to_pylist()
    assert rows == [
        {"shipment_id": "shp_a", "carrier": "FedEx", "weight_kg": 10.0},
        {"shipment_id": "shp_b", "carrier": "DHL", "weight_kg": 2.0},
        {"shipment_id": "shp_c", "carrier": "USPS", "weight_kg": 3.0},
    ]
    assert read.asked == [("silver", "shipments", (DAY,))]


def test_current_follows_the_contracts_order_by_then_lineage(registry):
    doc = yaml.safe_load((CONTRACTS / "shipments.yaml").read_text())
    doc["order_by"] = "event_time"
    contract = contract_from_dict(doc, "shipments.yaml")
    custom = ContractRegistry([contract])
    (model,) = current_models(custom)

    def row(carrier, hour, line, minute):
        r = shipment("shp_a", carrier, 1.0, "bronze/shipments/x.jsonl", line, at(minute))
        r["event_time"] = dt.datetime(2026, 1, 5, hour, tzinfo=dt.UTC)
        return r

    # The later event wins though it was ingested first; equal events fall to `_ingested_at`,
    # then to `_line`.
    files = [
        silver_table(contract, [row("newest_event", 9, 1, 0), row("older_event", 8, 2, 50)]),
        silver_table(contract, [row("tie_late_line", 7, 9, 5), row("tie_early_line", 7, 3, 5)]),
    ]
    out = run_model(model, DAY, frames_reader({("silver", "shipments"): files}, custom), custom)
    assert out.column("carrier").to_pylist() == ["newest_event"]
    files = [
        silver_table(contract, [row("tie_late_line", 7, 9, 5), row("tie_early_line", 7, 3, 5)])
    ]
    out = run_model(model, DAY, frames_reader({("silver", "shipments"): files}, custom), custom)
    assert out.column("carrier").to_pylist() == ["tie_late_line"]


ARRIVALS = st.lists(
    st.tuples(st.sampled_from(["shp_a", "shp_b", "shp_c"]), st.sampled_from(["UPS", "DHL"])),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=ARRIVALS, data=st.data())
def test_current_is_the_same_whatever_order_files_and_rows_arrive_in(
    registry, models, records, data
):
    contract = registry["shipments"]
    # Distinct `_ingested_at`, a file per three rows: the newest per key is unambiguous.
    rows = [
        shipment(sid, carrier, float(i), f"bronze/shipments/f{i // 3}.jsonl", i % 3 + 1, at(i))
        for i, (sid, carrier) in enumerate(records)
    ]
    by_file: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_file[r["_source_key"]].append(r)
    expected = {}
    for r in rows:
        if r["shipment_id"] not in expected or r["_ingested_at"] > expected[r["shipment_id"]][1]:
            expected[r["shipment_id"]] = (r["weight_kg"], r["_ingested_at"])

    def outcome(files):
        read = frames_reader({("silver", "shipments"): files}, registry)
        return run_model(models["shipments_current"], DAY, read, registry)

    baseline = outcome([silver_table(contract, f) for f in by_file.values()])
    shuffled_files = data.draw(st.permutations(list(by_file.values())))
    shuffled = [silver_table(contract, data.draw(st.permutations(f))) for f in shuffled_files]
    assert outcome(shuffled).equals(baseline)
    kept = baseline.select(["shipment_id", "weight_kg"]).to_pylist()
    assert {r["shipment_id"]: r["weight_kg"] for r in kept} == {
        k: v[0] for k, v in expected.items()
    }


# --- the example models on generated data -------------------------------------------------------


def test_transactions_enriched_matches_hand_computed_usd_and_categories(s3, registry, models):
    txn = generate("transactions", "csv", 120, seed=11, day=dt.date.fromisoformat(DAY))
    land(s3, registry, "transactions", txn.data, "batch")
    # A week of rates up to the day, in two files; the day's EUR rate is then corrected.
    fx = generate("fx_rates", count=7 * len(FX_CURRENCIES), seed=5, day=dt.date.fromisoformat(DAY))
    land(s3, registry, "fx_rates", fx.data, "week", day="2026-01-04")
    correction = {"rate_date": DAY, "currency": "EUR", "usd_per_unit": "1.11111111"}
    land(
        s3, registry, "fx_rates", jsonl([correction]), "fix",
        ingested_at=dt.datetime(2026, 1, 5, 18, tzinfo=dt.UTC),
    )  # fmt: skip
    land(
        s3, registry, "merchants", generate("merchants", count=20).data, "master", day="2025-12-01"
    )

    tables = S3Tables(s3, SILVER, registry, models.values())
    out = run_model(models["transactions_enriched"], DAY, tables, registry)

    rates = {}
    for line in fx.data.splitlines():
        r = json.loads(line)
        rates[(r["rate_date"], r["currency"])] = Decimal(r["usd_per_unit"])
    rates[(DAY, "EUR")] = Decimal("1.11111111")
    merchants = {
        json.loads(line)["merchant"]: json.loads(line)
        for line in generate("merchants", count=6).data.splitlines()
    }
    source = list(csv.DictReader(io.StringIO(txn.data.decode())))
    expected = {}
    for r in source:
        rate = rates[(r["booked_at"][:10], r["currency"])]
        expected[r["transaction_id"]] = (
            (Decimal(r["amount"]) * rate).quantize(Decimal("0.01"), ROUND_HALF_UP),
            merchants[r["merchant"]]["category"],
        )
    got = {r["transaction_id"]: (r["amount_usd"], r["merchant_category"]) for r in out.to_pylist()}
    assert got == expected
    assert out.num_rows == len(source) == 120
    assert out.schema.field("amount_usd").type == pa.decimal128(18, 2)
    assert Counter(r["currency"] for r in source).keys() <= set(FX_CURRENCIES)
    usd = [r for r in out.to_pylist() if r["currency"] == "USD"]
    assert usd and all(r["amount_usd"] == r["amount"] for r in usd)


def test_reference_inputs_are_asked_for_whole_and_others_for_the_day(registry, models):
    recorded = frames_reader({}, registry)
    run_model(models["transactions_enriched"], DAY, recorded, registry)
    assert sorted(recorded.asked) == [
        ("ref", "fx_rates", None),
        ("ref", "merchants", None),
        ("silver", "transactions", (DAY,)),
    ]


def test_the_reference_samples_cover_what_transactions_name():
    assert set(CURRENCIES) <= set(FX_CURRENCIES)
    merchants = [
        json.loads(line)["merchant"] for line in generate("merchants", count=6).data.splitlines()
    ]
    assert sorted(merchants) == sorted(MERCHANTS)
    assert generate("fx_rates", seed=3).data == generate("fx_rates", seed=3).data
    assert generate("fx_rates", seed=3).data != generate("fx_rates", seed=4).data


def test_shipments_by_carrier_sums_per_carrier(s3, registry, models):
    day = dt.date.fromisoformat(DAY)
    files = [generate("shipments", count=150, seed=s, day=day) for s in (1, 2)]
    for i, file in enumerate(files):
        land(s3, registry, "shipments", file.data, f"part-{i}")
    # Another day's shipments are not partition D's.
    land(
        s3,
        registry,
        "shipments",
        generate("shipments", count=40, seed=9).data,
        "x",
        day="2026-01-04",
    )
    out = run_model(models["shipments_by_carrier"], DAY, S3Tables(s3, SILVER, registry), registry)

    count, kg = Counter(), defaultdict(float)
    for file in files:
        for line in file.data.splitlines():
            r = json.loads(line)
            count[r["carrier"]] += 1
            kg[r["carrier"]] += r["weight_kg"]
    rows = out.to_pylist()
    assert [r["carrier"] for r in rows] == sorted(count)
    for r in rows:
        assert r["shipments"] == count[r["carrier"]]
        assert r["total_kg"] == pytest.approx(kg[r["carrier"]])
    assert out.schema == pa.schema(
        [("carrier", pa.string()), ("shipments", pa.int64()), ("total_kg", pa.float64())]
    )


def test_a_window_model_reads_the_seven_days_up_to_its_partition(s3, registry, models):
    def ship(sid):
        return {"record_type": "shipments", "event_time": f"{DAY}T01:00:00Z", "shipment_id": sid,
                "origin": "SZX", "destination": "SEA", "carrier": "UPS", "weight_kg": 1.0}  # fmt: skip

    def scan(eid, sid, status, when):
        return {"event_id": eid, "shipment_id": sid, "event_time": when, "status": status}

    for day, sid in [("2025-12-29", "shp_old"), ("2025-12-30", "shp_first"), (DAY, "shp_last")]:
        land(s3, registry, "shipments", jsonl([ship(sid)]), "s", day=day)
    land(s3, registry, "tracking_events", jsonl([
        scan("evt_1", "shp_first", "picked_up", "2025-12-30T10:00:00Z"),
        scan("evt_x", "shp_old", "delivered", "2025-12-29T10:00:00Z"),
    ]), "t", day="2025-12-30")  # fmt: skip
    land(s3, registry, "tracking_events", jsonl([
        scan("evt_2", "shp_first", "delivered", "2026-01-04T10:00:00Z"),
        scan("evt_3", "shp_last", "in_transit", f"{DAY}T03:00:00Z"),
    ]), "t", day=DAY)  # fmt: skip

    assert window(DAY, 7) == [f"2025-12-{d}" for d in range(30, 32)] + [
        f"2026-01-0{d}" for d in range(1, 6)
    ]
    out = run_model(models["shipment_status"], DAY, S3Tables(s3, SILVER, registry), registry)
    status = {r["shipment_id"]: r["last_status"] for r in out.to_pylist()}
    assert status == {"shp_first": "delivered", "shp_last": "in_transit"}

    recorded = frames_reader({}, registry)
    run_model(models["shipment_status"], DAY, recorded, registry)
    assert sorted(recorded.asked) == [
        ("silver", name, tuple(window(DAY, 7))) for name in ("shipments", "tracking_events")
    ]


def test_an_empty_partition_gives_an_empty_correctly_typed_table(s3, registry, models):
    tables = S3Tables(s3, SILVER, registry, models.values())
    for name in (
        "shipments_by_carrier",
        "transactions_enriched",
        "shipment_status",
        "shipments_current",
    ):
        out = run_model(models[name], DAY, tables, registry)
        assert out.num_rows == 0, name
        assert out.schema == output_schema(models[name], registry, models.values()), name
    schema = output_schema(models["transactions_enriched"], registry)
    assert schema.field("booked_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("usd_per_unit").type == pa.decimal128(18, 8)
    assert schema.field("merchant_category").type == pa.string()
    assert schema.field("is_refund").type == pa.bool_()


def test_gold_inputs_are_read_from_the_gold_files_or_empty_with_the_upstream_schema(
    tmp_path, s3, registry
):
    write_sql(
        tmp_path,
        "by_carrier",
        "SELECT carrier, count(*) AS n FROM silver.shipments GROUP BY carrier",
    )
    write_sql(
        tmp_path,
        "busiest",
        "-- window: 2d\nSELECT carrier, sum(n) AS n FROM gold.by_carrier GROUP BY carrier ORDER BY carrier",
    )
    loaded = {m.name: m for m in load_models(tmp_path, registry)}
    tables = S3Tables(s3, SILVER, registry, loaded.values())
    empty = run_model(loaded["busiest"], DAY, tables, registry)
    assert empty.num_rows == 0
    assert empty.schema == pa.schema([("carrier", pa.string()), ("n", pa.int64())])

    for day, n in (("2026-01-04", 2), (DAY, 3), ("2026-01-03", 100)):
        table = pa.table({"carrier": ["UPS"], "n": pa.array([n], pa.int64())})
        write_model_output(s3, SILVER, "by_carrier", day, table)
    out = run_model(loaded["busiest"], DAY, tables, registry)
    assert out.to_pylist() == [{"carrier": "UPS", "n": 5}]


def test_a_failing_query_names_the_model_and_the_partition(tmp_path, s3, registry):
    path = write_sql(tmp_path, "typo", "SELECT carrierz FROM silver.shipments")
    loaded = {m.name: m for m in load_models(tmp_path, registry)}
    with pytest.raises(ModelError) as info:
        run_model(loaded["typo"], DAY, S3Tables(s3, SILVER, registry), registry)
    text = str(info.value)
    assert str(path) in text and "'typo'" in text and DAY in text
    with pytest.raises(ModelError, match="not a date"):
        run_model(loaded["typo"], "05/01/2026", S3Tables(s3, SILVER, registry), registry)


def test_the_output_is_one_zstd_file_at_the_deterministic_key(s3, registry, models):
    land(s3, registry, "shipments", generate("shipments", count=30, seed=4).data, "a")
    tables = S3Tables(s3, SILVER, registry, models.values())
    out = run_model(models["shipments_by_carrier"], DAY, tables, registry)
    key = write_model_output(s3, SILVER, "shipments_by_carrier", DAY, out)
    assert key == gold_model_key("shipments_by_carrier", DAY)
    assert key == f"gold/shipments_by_carrier/dt={DAY}/part-0.parquet"
    again = write_model_output(s3, SILVER, "shipments_by_carrier", DAY, out)
    assert again == key
    listed = s3.list_objects_v2(Bucket=SILVER, Prefix="gold/shipments_by_carrier/")["Contents"]
    assert [o["Key"] for o in listed] == [key]
    body = s3.get_object(Bucket=SILVER, Key=key)["Body"].read()
    assert pq.ParquetFile(io.BytesIO(body)).metadata.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_table(io.BytesIO(body)).equals(out)
