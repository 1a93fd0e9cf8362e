"""Hostile and unusual input: every case ends in silver or quarantine with a reason, never a crash."""

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lambda_bridge.contracts import DEFAULT_MAX_LINE_BYTES, contract_from_dict
from lambda_bridge.parse import parse_object

from .conftest import GOOD_SHIPMENT as GOOD
from .test_parse import codes, shipment
from .test_parse_properties import GZIP_MAGIC, SHIPMENTS, _nonblank, lines_strategy

UTC = dt.UTC


def shipments_with(registry, **changes):
    """The shipments contract with some fields changed, validated like a loaded contract."""
    doc = yaml.safe_load(Path(registry["shipments"].source_path).read_text(encoding="utf-8"))
    for key, value in changes.items():
        if callable(value):
            value(doc)
        else:
            doc[key] = value
    return contract_from_dict(doc, "shipments.yaml")


def lines(*records: bytes) -> bytes:
    return b"\n".join(records) + b"\n"


# -- deeply nested JSON ----------------------------------------------------------------------

DEEP_ARRAY = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


@pytest.mark.parametrize("policy", ["drop", "keep", "reject"])
@pytest.mark.parametrize(
    "line",
    [
        DEEP_ARRAY,
        DEEP_OBJECT,
        GOOD[:-1] + b',"unknown":' + DEEP_ARRAY + b"}",
        GOOD[:-1] + b',"nested":' + DEEP_OBJECT + b"}",
        shipment(carrier=None)[:-1] + b',"carrier":' + DEEP_ARRAY + b"}",
    ],
    ids=["array", "object", "unknown-array", "unknown-object", "declared-column"],
)
def test_ten_thousand_levels_of_nesting_never_crash_the_parser(registry, policy, line):
    contract = shipments_with(registry, extra_fields=policy)
    for data in (lines(GOOD, line, GOOD), lines(line), line):
        result = parse_object(data, contract, "jsonl")
        assert result.lines_in == result.rows_out + result.rows_quarantined
    result = parse_object(lines(GOOD, line, GOOD), contract, "jsonl")
    assert {1, 3} <= set(result.lines.tolist()), "the good lines around it survive"
    for data in (line, b"[" + GOOD + b"," + line + b"]"):
        result = parse_object(data, contract, "json")
        assert result.lines_in == result.rows_out + result.rows_quarantined


def test_a_deep_unknown_value_is_dropped_or_kept_verbatim_or_rejected(registry):
    line = GOOD[:-1] + b',"unknown":' + DEEP_ARRAY + b"}"
    dropped = parse_object(lines(line), shipments_with(registry), "jsonl")
    assert dropped.rows_out == 1
    keep = shipments_with(registry, extra_fields="keep")
    shallow = GOOD[:-1] + b',"unknown":' + b"[" * 50 + b"]" * 50 + b"}"
    kept = parse_object(lines(shallow), keep, "jsonl")
    assert kept.table.column("_extra").to_pylist() == ['{"unknown":' + "[" * 50 + "]" * 50 + "}"]
    # Too deep to copy into `_extra`: quarantined with the reason rather than kept half.
    too_deep = parse_object(lines(line), keep, "jsonl")
    assert codes(too_deep) == [(1, "json_decode")] and "nested" in too_deep.bad[0].error
    rejected = parse_object(lines(line), shipments_with(registry, extra_fields="reject"), "jsonl")
    assert codes(rejected) == [(1, "extra_field")]


def test_a_deeply_nested_json_document_is_quarantined_whole_with_a_reason(registry):
    result = parse_object(DEEP_ARRAY, registry["shipments"], "json")
    assert codes(result) == [(1, "json_decode")]
    assert "nested" in result.bad[0].error


# -- a line over the size limit --------------------------------------------------------------


def test_a_line_over_the_limit_is_quarantined_with_its_size_and_a_truncated_raw(registry):
    contract = registry["shipments"]
    assert contract.max_line_bytes == DEFAULT_MAX_LINE_BYTES
    huge = shipment(carrier="x" * (DEFAULT_MAX_LINE_BYTES + 10))
    for data in (lines(GOOD, huge, GOOD), gzip.compress(lines(GOOD, huge, GOOD))):
        result = parse_object(data, contract, "jsonl")
        assert (result.rows_out, codes(result)) == (2, [(2, "line_too_long")])
        assert result.lines.tolist() == [1, 3]
        bad = result.bad[0]
        assert f"line of {len(huge)} bytes" in bad.error and "max_line_bytes" in bad.error
        assert bad.truncated and len(bad.raw) == 64 * 1024 and huge.startswith(bad.raw)


def test_the_limit_is_set_per_dataset_and_counts_bytes_exactly(registry):
    contract = shipments_with(registry, max_line_bytes=4096)
    at_limit = shipment(carrier="x" * (4096 - len(shipment(carrier=""))))
    over = shipment(carrier="x" * (4097 - len(shipment(carrier=""))))
    assert (len(at_limit), len(over)) == (4096, 4097)
    # Many short lines around them: the cheap probe must not miss either one.
    data = lines(*([GOOD] * 50), at_limit, *([GOOD] * 50), over, *([GOOD] * 50))
    result = parse_object(data, contract, "jsonl")
    assert codes(result) == [(102, "line_too_long")]
    assert result.rows_out == 151
    csv = b"a,b\n" + b"1," + b"y" * 5000 + b"\n"
    csv_contract = shipments_with(
        registry,
        formats=["csv"],
        max_line_bytes=4096,
        columns=[{"name": "a", "type": "int64"}, {"name": "b", "type": "string"}],
        primary_key=[],
        checks=[],
    )
    assert codes(parse_object(csv, csv_contract, "csv")) == [(2, "line_too_long")]
    json_doc = b"[" + GOOD + b"," + shipment(carrier="x" * 4096) + b"]"
    assert codes(parse_object(json_doc, contract, "json")) == [(2, "line_too_long")]


def test_a_limit_below_one_kib_is_refused(registry):
    from lambda_bridge.exceptions import ContractError

    with pytest.raises(ContractError, match="max_line_bytes"):
        shipments_with(registry, max_line_bytes=10)


# -- numbers: int64, 2^53 and beyond ---------------------------------------------------------


def int_contract(registry):
    return shipments_with(
        registry,
        columns=[
            {"name": "n", "type": "int64", "required": True},
            {"name": "x", "type": "float64"},
        ],
        primary_key=[],
        checks=[],
    )


def test_integers_beyond_2_53_stay_exact_and_beyond_int64_are_type_mismatch(registry):
    contract = int_contract(registry)
    values = [2**53 + 1, 2**63 - 1, -(2**63)]
    data = lines(*[json.dumps({"n": v}).encode() for v in values], b'{"n": 9223372036854775808}')
    result = parse_object(data, contract, "jsonl")
    assert result.table.column("n").to_pylist() == values
    assert codes(result) == [(4, "type_mismatch")]


def test_the_same_field_as_int_float_and_numeric_string_across_files(registry):
    """Each file lands with the contract's exact types; a quoted number in a numeric column is a
    type mismatch (JSON types are part of the contract; CSV text is cast instead)."""
    contract = int_contract(registry)
    files = {
        "ints": lines(b'{"n": 1, "x": 2}', b'{"n": 2, "x": 3}'),
        "floats": lines(b'{"n": 1.5, "x": 2.5}', b'{"n": 3, "x": 1e3}'),
        "strings": lines(b'{"n": "4", "x": "2.5"}', b'{"n": 5, "x": null}'),
    }
    results = {name: parse_object(data, contract, "jsonl") for name, data in files.items()}
    for result in results.values():
        assert result.table.schema == contract.parsed_schema
    assert results["ints"].table.column("x").to_pylist() == [2.0, 3.0]
    assert codes(results["floats"]) == [(1, "type_mismatch")]
    assert results["floats"].table.to_pylist() == [{"n": 3, "x": 1000.0}]
    assert codes(results["strings"]) == [(1, "type_mismatch")]
    assert results["strings"].table.to_pylist() == [{"n": 5, "x": None}]
    # One partition, three files: every Parquet file has one schema, no int/double drift.
    schemas = set()
    for result in results.values():
        sink = pa.BufferOutputStream()
        pq.write_table(result.table, sink)
        schemas.add(pq.read_schema(pa.BufferReader(sink.getvalue())).to_string())
    assert len(schemas) == 1


# -- timestamps ------------------------------------------------------------------------------


def epoch_contract(registry, unit):
    def set_unit(doc):
        for column in doc["columns"]:
            if column["name"] == "event_time":
                column["epoch_unit"] = unit

    return shipments_with(registry, columns=set_unit)


@pytest.mark.parametrize(
    ("unit", "value"),
    [
        ("s", 1767582000),
        ("s", 1767582000.25),
        ("ms", 1767582000250),
        ("us", 1767582000250000),
    ],
)
def test_epoch_timestamps_are_read_in_the_declared_unit(registry, unit, value):
    contract = epoch_contract(registry, unit)
    result = parse_object(lines(shipment(event_time=value)), contract, "jsonl")
    expected = dt.datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    if value not in (1767582000,):
        expected += dt.timedelta(milliseconds=250)
    assert result.bad == []
    assert result.table.column("event_time").to_pylist() == [expected]
    assert result.table.schema.field("event_time").type == pa.timestamp("us", tz="UTC")


def test_epoch_columns_refuse_text_bools_and_out_of_range_numbers(registry):
    contract = epoch_contract(registry, "ms")
    data = lines(
        shipment(event_time="2026-01-05T03:00:00Z"),
        shipment(event_time=True),
        shipment(event_time=1e30),
        shipment(event_time=1767582000000),
    )
    result = parse_object(data, contract, "jsonl")
    assert codes(result) == [(1, "type_mismatch"), (2, "type_mismatch"), (3, "type_mismatch")]
    assert result.rows_out == 1


def test_epoch_text_in_csv_is_cast_too(registry):
    contract = shipments_with(
        registry,
        formats=["csv"],
        columns=[{"name": "t", "type": "timestamp", "epoch_unit": "s", "required": True}],
        primary_key=[],
        checks=[],
    )
    result = parse_object(b"t\n0\n1767582000\nsoon\n", contract, "csv")
    assert result.table.column("t").to_pylist() == [
        dt.datetime(1970, 1, 1, tzinfo=UTC),
        dt.datetime(2026, 1, 5, 3, tzinfo=UTC),
    ]
    assert codes(result) == [(4, "type_mismatch")]


def test_an_epoch_number_without_a_declared_unit_says_how_to_fix_it(registry):
    result = parse_object(lines(shipment(event_time=1767582000)), registry["shipments"], "jsonl")
    assert codes(result) == [(1, "type_mismatch")]
    assert "epoch_unit" in result.bad[0].error


def test_epoch_unit_is_only_for_timestamp_columns(registry):
    from lambda_bridge.exceptions import ContractError

    def bad(doc):
        doc["columns"][-1]["epoch_unit"] = "s"  # weight_kg: float64

    with pytest.raises(ContractError, match=r"epoch_unit.*timestamp"):
        shipments_with(registry, columns=bad)

    def unknown(doc):
        doc["columns"][1]["epoch_unit"] = "days"

    with pytest.raises(ContractError, match="epoch_unit"):
        shipments_with(registry, columns=unknown)


# -- unknown fields: drop (default), keep, reject --------------------------------------------


def test_unknown_fields_are_dropped_by_default(registry):
    contract = registry["shipments"]
    assert contract.extra_fields == "drop"
    result = parse_object(lines(GOOD[:-1] + b',"colour":"red"}'), contract, "jsonl")
    assert result.rows_out == 1 and "_extra" not in result.table.column_names
    assert "_extra" not in contract.silver_schema.names


def test_keep_puts_unknown_fields_in_an_extra_json_column(registry):
    contract = shipments_with(registry, extra_fields="keep")
    assert contract.silver_schema.names[: len(contract.columns) + 1][-1] == "_extra"
    with_extra = GOOD[:-1] + b',"colour":"red","dims":{"h":[1,2.50]}}'
    for data in (
        lines(GOOD, with_extra),
        lines(GOOD, with_extra, b"not json"),  # the isolating path too
        b"[" + GOOD + b"," + with_extra + b"]",
    ):
        fmt = "json" if data.startswith(b"[") else "jsonl"
        result = parse_object(data, contract, fmt)
        assert result.table.schema == contract.parsed_schema
        extras = result.table.column("_extra").to_pylist()
        assert extras[0] is None
        assert json.loads(extras[1]) == {"colour": "red", "dims": {"h": [1, 2.5]}}
    clean = parse_object(lines(GOOD, GOOD), contract, "jsonl")
    assert clean.table.column("_extra").to_pylist() == [None, None]


def test_reject_quarantines_exactly_the_lines_with_unknown_fields(registry):
    contract = shipments_with(registry, extra_fields="reject")
    data = lines(GOOD, GOOD[:-1] + b',"colour":"red"}', GOOD, b"not json")
    result = parse_object(data, contract, "jsonl")
    assert codes(result) == [(2, "extra_field"), (4, "json_decode")]
    assert "colour" in result.bad[0].error
    assert result.lines.tolist() == [1, 3]


def test_csv_columns_outside_the_contract_follow_the_same_policy(registry):
    columns = [{"name": "a", "type": "int64"}, {"name": "b", "type": "string"}]

    def contract(policy):
        return shipments_with(
            registry,
            formats=["csv"],
            columns=columns,
            primary_key=[],
            checks=[],
            extra_fields=policy,
        )

    data = b"a,b,colour\n1,x,red\n2,y,\n"
    assert parse_object(data, contract("drop"), "csv").table.column_names == ["a", "b"]
    kept = parse_object(data, contract("keep"), "csv").table.column("_extra").to_pylist()
    assert [json.loads(k) for k in kept] == [{"colour": "red"}, {"colour": None}]
    rejected = parse_object(data, contract("reject"), "csv")
    assert codes(rejected) == [(2, "extra_field"), (3, "extra_field")]


def test_an_unknown_policy_is_refused_at_load(registry):
    from lambda_bridge.exceptions import ContractError

    with pytest.raises(ContractError, match="extra_fields"):
        shipments_with(registry, extra_fields="explode")


# -- every policy keeps the parser's promises ------------------------------------------------

POLICIES = {
    policy: contract_from_dict(
        {**yaml.safe_load(Path(SHIPMENTS.source_path).read_text(encoding="utf-8")),
         "extra_fields": policy},
        "shipments.yaml",
    )
    for policy in ("drop", "keep", "reject")
}  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy, policy=st.sampled_from(sorted(POLICIES)))
def test_under_every_extra_field_policy_lines_are_conserved_and_judged_alone(lines, policy):
    contract = POLICIES[policy]
    data = b"\n".join(line for _, line in lines)
    assume(not data.startswith(GZIP_MAGIC))
    together = parse_object(data, contract, "jsonl")
    assert together.table.schema == contract.parsed_schema
    expected = [no for no, (_, line) in enumerate(lines, 1) if _nonblank(line)]
    assert sorted(together.lines.tolist() + [b.line for b in together.bad]) == expected
    verdicts = {b.line: b.code for b in together.bad}
    extras = dict(zip(together.lines.tolist(), together.table.to_pylist(), strict=True))
    for no, (_, line) in enumerate(lines, 1):
        if not _nonblank(line) or line.startswith(GZIP_MAGIC):
            continue
        alone = parse_object(line, contract, "jsonl")
        assert verdicts.get(no) == (alone.bad[0].code if alone.bad else None), line
        if policy == "keep" and not alone.bad:
            assert extras[no] == alone.table.to_pylist()[0], "same row, `_extra` included"


# -- objects too large to hold in memory, gzip bombs included ---------------------------------


def test_an_object_over_the_memory_limit_is_quarantined_whole_unread(registry):
    data = lines(*([GOOD] * 100))
    result = parse_object(data, registry["shipments"], "jsonl", max_bytes=len(data) - 1)
    assert (result.lines_in, result.rows_out, codes(result)) == (1, 0, [(1, "too_large")])
    assert f"object of {len(data)} bytes" in result.bad[0].error
    assert result.bad[0].truncated
    assert parse_object(data, registry["shipments"], "jsonl", max_bytes=len(data)).rows_out == 100


def test_a_gzip_bomb_stops_decompressing_at_the_limit(registry):
    bomb = gzip.compress(b" " * (64 << 20))  # 64 MiB of blanks in ~64 KiB
    assert len(bomb) < 100_000
    result = parse_object(bomb, registry["shipments"], "jsonl", max_bytes=1 << 20)
    assert codes(result) == [(1, "too_large")]
    assert "at least" in result.bad[0].error and result.bad[0].raw == bomb[: 64 * 1024]


def test_the_limited_gunzip_reads_what_gzip_reads(registry):
    contract = registry["shipments"]
    members = gzip.compress(lines(GOOD, GOOD)) + gzip.compress(lines(GOOD)) + b"\x00" * 8
    limited = parse_object(members, contract, "jsonl", max_bytes=10 << 20)
    unlimited = parse_object(members, contract, "jsonl")
    assert limited.rows_out == unlimited.rows_out == 3
    truncated = gzip.compress(lines(*([GOOD] * 50)))[:-20]
    assert codes(parse_object(truncated, contract, "jsonl", max_bytes=10 << 20)) == [
        (1, "decompress")
    ]
    corrupt = bytearray(gzip.compress(lines(GOOD)))
    corrupt[-6] ^= 0xFF  # the CRC
    assert codes(parse_object(bytes(corrupt), contract, "jsonl", max_bytes=10 << 20)) == [
        (1, "decompress")
    ]
