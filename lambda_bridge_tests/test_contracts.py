import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from lambda_bridge.contracts import ContractRegistry, load_contract, parse_type
from lambda_bridge.exceptions import ContractError
from lambda_bridge.parse import parse_object

SHIPMENTS_CONTRACT = Path(__file__).parents[1] / "elt_assets" / "contracts" / "shipments.yaml"


def test_the_example_datasets_ship(registry):
    assert registry.names == [
        "fx_rates", "invoice_lines", "merchants", "shipments", "tracking_events", "transactions",
    ]  # fmt: skip
    assert registry["transactions"].formats == ("csv",)
    assert [c.name for c in registry if c.kind == "reference"] == ["fx_rates", "merchants"]
    assert registry["shipments"].kind == "dataset"
    assert registry["shipments"].order_by == ("_ingested_at",)


def test_silver_schema_is_the_contract_then_lineage(registry):
    schema = registry["shipments"].silver_schema
    assert schema.names == [
        "record_type", "event_time", "shipment_id", "origin", "destination", "carrier", "weight_kg",
        "_source_key", "_source_version", "_line", "_ingested_at",
    ]  # fmt: skip
    assert schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert schema.field("weight_kg").type == pa.float64()
    assert schema.field("_line").type == pa.int64()
    assert schema.field("_ingested_at").type == pa.timestamp("us", tz="UTC")


@pytest.mark.parametrize(
    "event_time",
    [
        "2026-01-05T03:00:00+00:00",
        "2026-01-05T03:00:00Z",
        "2026-01-05T11:00:00+08:00",
        "2026-01-04T22:00:00-05:00",
    ],
)
def test_shipments_accepts_what_producers_send_and_normalises_to_utc(registry, event_time):
    record = {
        "record_type": "shipments", "event_time": event_time, "shipment_id": "shp_9x",
        "origin": "SZX", "destination": "SEA", "carrier": "UPS", "weight_kg": 12.5,
    }  # fmt: skip
    line = json.dumps(record).encode()
    result = parse_object(line, registry["shipments"], "jsonl")
    assert result.rows_quarantined == 0
    (row,) = result.table.to_pylist()
    assert row["event_time"] == dt.datetime(2026, 1, 5, 3, 0, tzinfo=dt.UTC)
    assert row["weight_kg"] == 12.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("string", pa.string()),
        ("int64", pa.int64()),
        ("decimal(12,2)", pa.decimal128(12, 2)),
        ("list<string>", pa.list_(pa.string())),
        (
            "struct<a: int64, b: list<float64>>",
            pa.struct([("a", pa.int64()), ("b", pa.list_(pa.float64()))]),
        ),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("date", pa.date32()),
    ],
)
def test_type_names(text, expected):
    assert parse_type(text) == expected


def _write(tmp_path: Path, doc: dict, name: str = "shipments") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _base() -> dict:
    return yaml.safe_load(SHIPMENTS_CONTRACT.read_text())


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["columns"][1].update(type="timestamps"), "columns[1].type"),
        (lambda d: d["columns"][2].update(type="decimal(50,2)"), "columns[2].type"),
        (lambda d: d["columns"][0].update(name="Record Type"), "columns[0].name"),
        (lambda d: d["columns"][0].update(requird=True), "columns[0].requird"),
        (lambda d: d["columns"].append(dict(d["columns"][0])), "columns[7].name"),
        (lambda d: d.update(primary_key=["nope"]), "primary_key"),
        (lambda d: d.update(formats=["xml"]), "formats[0]"),
        (lambda d: d.update(bronze_prefix="shipments/"), "bronze_prefix"),
        (lambda d: d.update(colums=[]), "colums"),
        (lambda d: d.update(columns=[]), "columns"),
        (lambda d: d.update(extra_fields="explode"), "extra_fields"),
        (
            lambda d: d["checks"][0].update(expectation="not_an_expectation"),
            "checks[0].expectation",
        ),
        (lambda d: d["checks"][2]["kwargs"].update(column="weight"), "checks[2].kwargs.column"),
        (lambda d: d["quality"].update(max_quarantine_rate=2), "quality.max_quarantine_rate"),
        (lambda d: d["quality"].update(expect_daily_data="no"), "quality.expect_daily_data"),
        (lambda d: d["columns"][0].update(required=True, nullable=True), "columns[0].nullable"),
        (lambda d: d.update(name="other"), "name"),
        (lambda d: d.update(kind="lookup"), "kind"),
        (lambda d: d.update(order_by="updated_at"), "order_by"),
        (lambda d: d.update(order_by=["event_time", "_source_key"]), "order_by"),
        (lambda d: d.update(order_by=[]), "order_by"),
    ],
)
def test_a_malformed_contract_names_the_file_and_the_field(tmp_path, mutate, field):
    doc = _base()
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(path) in str(info.value)
    assert f"field '{field}'" in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "field", "problem"),
    [
        (lambda d: d.update(max_line_bytes=True), "max_line_bytes", "got `bool`"),
        (lambda d: d.update(max_line_bytes=4096.0), "max_line_bytes", "got `float`"),
        (lambda d: d.update(max_line_bytes=10), "max_line_bytes", ">= 1024"),
        (
            lambda d: d["quality"].update(max_quarantine_rate=True),
            "quality.max_quarantine_rate",
            "got `bool`",
        ),
        (
            lambda d: d["quality"].update(max_quarantin_rate=0.1),
            "quality.max_quarantin_rate",
            "unknown",
        ),
        (lambda d: d.update(extra_field="keep"), "extra_field", "unknown field (known: "),
        (lambda d: d.update(naive_timestamps="local"), "naive_timestamps", "one of utc, reject"),
        (lambda d: d["columns"][1].update(epoch_unit="ns"), "columns[1].epoch_unit", "'ns'"),
        (lambda d: d.update(partition={"by": "event_time"}), "partition.by", "'event_time'"),
        (lambda d: d.update(csv={"delimiter": ";;"}), "csv.delimiter", "length <= 1"),
        (lambda d: d.update(bronze_prefix=None), "bronze_prefix", "got `null`"),
        (lambda d: d["columns"][0].update(required="yes"), "columns[0].required", "got `str`"),
        (lambda d: d["columns"][3].pop("type"), "columns[3].type", "missing required field"),
        (lambda d: d.update(owners=["logistics"]), "owners[0]", "team:<name>"),
        (lambda d: d.update(kind="lookup"), "kind", "one of dataset, reference"),
        (lambda d: d.update(order_by="updated_at"), "order_by", "'updated_at' is not a declared"),
        (lambda d: d.update(order_by=3), "order_by", "a column name or a list of them"),
        (lambda d: d.update(order_by=["_line", "_line"]), "order_by", "names a column twice"),
    ],
)
def test_the_document_schema_names_the_file_the_field_and_the_problem(
    tmp_path, mutate, field, problem
):
    doc = _base()
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(info.value).startswith(f"{path}: field '{field}': ")
    assert problem in str(info.value)


def test_a_document_that_is_not_a_mapping_is_refused_with_the_file_name(tmp_path):
    path = tmp_path / "shipments.yaml"
    path.write_text("- name: shipments\n")
    with pytest.raises(ContractError, match=r"shipments\.yaml: a contract must be a mapping"):
        load_contract(path)


def test_optional_sections_may_be_null_or_long_form(tmp_path):
    doc = _base()
    doc.update(quality=None, checks=None, csv=None, partition={"by": "arrival_date"})
    contract = load_contract(_write(tmp_path, doc))
    assert (contract.max_quarantine_rate, contract.checks, contract.csv_delimiter) == (
        0.05,
        (),
        ",",
    )
    assert contract.partition == "arrival_date"


def test_the_registry_loads_from_the_environment(tmp_path, monkeypatch):
    _write(tmp_path, _base())
    monkeypatch.setenv("ELT_CONTRACTS_DIR", str(tmp_path))
    assert ContractRegistry.from_env().names == ["shipments"]
    monkeypatch.delenv("ELT_CONTRACTS_DIR")
    assert "transactions" in ContractRegistry.from_env()


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("event_time", ("event_time",)),
        (["event_time", "_line"], ("event_time", "_line")),
        ("_ingested_at", ("_ingested_at",)),
    ],
)
def test_order_by_takes_declared_columns_and_lineage(tmp_path, order_by, expected):
    doc = _base()
    doc.update(order_by=order_by, kind="reference")
    contract = load_contract(_write(tmp_path, doc))
    assert (contract.order_by, contract.kind) == (expected, "reference")


def test_reference_contracts_join_to_what_transactions_carry(registry):
    transactions = registry["transactions"]
    fx, merchants = registry["fx_rates"], registry["merchants"]
    assert fx.primary_key == ("rate_date", "currency")
    assert merchants.primary_key == ("merchant",)
    for column in ("currency", "merchant"):
        assert column in transactions.column_names
    assert fx.silver_schema.field("usd_per_unit").type == pa.decimal128(18, 8)
    assert merchants.owners == fx.owners == ("team:finance",)


def test_invalid_yaml_is_refused_with_the_file_name(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ContractError, match=r"broken\.yaml: not valid YAML"):
        load_contract(path)


def test_nested_columns_cannot_come_from_csv(tmp_path):
    doc = _base()
    doc["formats"] = ["csv"]
    doc["columns"].append({"name": "tags", "type": "list<string>"})
    with pytest.raises(ContractError, match=r"columns\[7\].type"):
        load_contract(_write(tmp_path, doc))


def test_overlapping_prefixes_are_refused(tmp_path):
    a = _base()
    b = _base()
    b["name"] = "shipments_eu"
    b["bronze_prefix"] = "bronze/shipments/eu/"
    _write(tmp_path, a)
    _write(tmp_path, b, "shipments_eu")
    with pytest.raises(ContractError, match="overlaps"):
        ContractRegistry.load(tmp_path)


def test_keys_resolve_to_datasets_by_prefix(registry):
    assert registry.for_key("bronze/shipments/dt=2026-01-05/a.jsonl").name == "shipments"
    assert registry.for_key("bronze/transactions/x.csv").name == "transactions"
    assert registry.for_key("bronze/shipments/") is None
    assert registry.for_key("bronze/unknown/a.jsonl") is None
    assert registry.for_key("silver/shipments/dt=2026-01-05/a.parquet") is None


def test_contracts_dir_can_be_chosen(tmp_path):
    _write(tmp_path, _base())
    assert ContractRegistry.load(tmp_path).names == ["shipments"]
    with pytest.raises(ContractError, match="does not exist"):
        ContractRegistry.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ContractError, match="has no"):
        ContractRegistry.load(tmp_path / "empty")
