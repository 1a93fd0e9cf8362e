import datetime as dt
import gzip
import json
from decimal import Decimal

import pyarrow as pa
import pytest

from lambda_bridge.parse import ErrorCode, parse_object

from .conftest import GOOD_SHIPMENT as GOOD


def shipment(**changes) -> bytes:
    record = json.loads(GOOD)
    for key, value in changes.items():
        if value is ...:
            del record[key]
        else:
            record[key] = value
    return json.dumps(record).encode()


def codes(result) -> list[tuple[int, str]]:
    return [(b.line, b.code.value) for b in result.bad]


def test_a_clean_file_goes_to_silver_with_exact_types(registry):
    result = parse_object(b"\n".join([GOOD] * 3) + b"\n", registry["shipments"], "jsonl")
    assert (result.lines_in, result.rows_out, result.rows_quarantined) == (3, 3, 0)
    assert result.table.schema == registry["shipments"].arrow_schema
    assert result.lines.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b'{"record_type": "shipments", "event_time": ', ErrorCode.JSON_DECODE),
        (b"[1, 2, 3]", ErrorCode.NOT_AN_OBJECT),
        (b'"just a string"', ErrorCode.NOT_AN_OBJECT),
        # pyarrow's reader crashes on a first `null` line and reads a later one as a null row.
        (b"null", ErrorCode.NOT_AN_OBJECT),
        (b"  null \t", ErrorCode.NOT_AN_OBJECT),
        (shipment(origin=...), ErrorCode.MISSING_REQUIRED),
        (shipment(origin=None), ErrorCode.MISSING_REQUIRED),
        (shipment(origin=42), ErrorCode.TYPE_MISMATCH),
        (shipment(weight_kg="12.5"), ErrorCode.TYPE_MISMATCH),
        (shipment(event_time="yesterday"), ErrorCode.TYPE_MISMATCH),
        (shipment(event_time="2026-13-05T03:00:00Z"), ErrorCode.TYPE_MISMATCH),
        (shipment(event_time=1767582000), ErrorCode.TYPE_MISMATCH),
        (GOOD.replace(b'"SZX"', b'"S\xffX"'), ErrorCode.ENCODING),
        (GOOD.replace(b"12.5", b"NaN"), ErrorCode.JSON_DECODE),
        (GOOD.replace(b"12.5", b"Infinity"), ErrorCode.JSON_DECODE),
        (GOOD[:-1] + b',"origin":"LAX"}', ErrorCode.DUPLICATE_KEY),
        (GOOD + b" " + GOOD, ErrorCode.JSON_DECODE),
    ],
)
def test_each_bad_line_is_quarantined_with_a_stable_code(registry, line, code):
    # Alone, first, and among good lines: the verdict must not depend on the neighbours.
    for data, bad_no in (
        (line, 1),
        (b"\n".join([line, GOOD]), 1),
        (b"\n".join([GOOD, GOOD, line, GOOD]), 3),
    ):
        result = parse_object(data, registry["shipments"], "jsonl")
        assert codes(result) == [(bad_no, code.value)], data
        assert result.lines_in == result.rows_out + result.rows_quarantined
        assert result.bad[0].raw == line
        assert result.bad[0].error


def test_an_int_column_refuses_floats_and_int64_overflow(registry):
    contract = registry["invoice_lines"]
    good = json.loads(parse_line_for_invoice())
    lines = [json.dumps({**good, "quantity": q}).encode() for q in (3, 3.5, 2**63, "3")]
    result = parse_object(b"\n".join(lines), contract, "jsonl")
    assert codes(result) == [(2, "type_mismatch"), (3, "type_mismatch"), (4, "type_mismatch")]
    assert result.table.column("quantity").to_pylist() == [3]


def parse_line_for_invoice() -> bytes:
    return json.dumps({
        "invoice_id": "inv_1", "line_no": 1, "shipment_id": "shp_1", "invoice_date": "2026-01-05",
        "charge_type": "freight", "quantity": 2, "unit_price": 10.25, "currency": "USD",
    }).encode()  # fmt: skip


def test_decimals_and_dates_are_exact(registry):
    result = parse_object(parse_line_for_invoice(), registry["invoice_lines"], "jsonl")
    (row,) = result.table.to_pylist()
    assert row["unit_price"] == Decimal("10.25")
    assert row["invoice_date"] == dt.date(2026, 1, 5)
    too_precise = parse_line_for_invoice().replace(b"10.25", b"10.255")
    assert codes(parse_object(too_precise, registry["invoice_lines"], "jsonl")) == [
        (1, "type_mismatch")
    ]


def test_blank_lines_crlf_bom_and_no_final_newline(registry):
    data = b"\xef\xbb\xbf" + GOOD + b"\r\n\r\n   \n" + GOOD + b"\r\n\n" + GOOD
    result = parse_object(data, registry["shipments"], "jsonl")
    assert (result.lines_in, result.rows_out) == (3, 3)
    assert result.lines.tolist() == [1, 4, 6]


def test_line_numbers_count_physical_lines_on_the_slow_path_too(registry):
    data = b"\n".join([GOOD, b"", b"{oops", b"", GOOD])
    result = parse_object(data, registry["shipments"], "jsonl")
    assert codes(result) == [(3, "json_decode")]
    assert result.lines.tolist() == [1, 5]


def test_a_bom_at_the_start_of_a_later_line_is_tolerated(registry):
    result = parse_object(GOOD + b"\n\xef\xbb\xbf" + GOOD, registry["shipments"], "jsonl")
    assert (result.rows_out, result.rows_quarantined) == (2, 0)


def test_empty_and_blank_objects_have_no_records(registry):
    for data in (b"", b"\n\n  \r\n"):
        result = parse_object(data, registry["shipments"], "jsonl")
        assert (result.lines_in, result.rows_out, result.rows_quarantined) == (0, 0, 0)
        assert result.table.schema == registry["shipments"].arrow_schema


def test_gzip_is_detected_by_magic_bytes_not_the_extension(registry):
    data = gzip.compress(b"\n".join([GOOD] * 5))
    assert parse_object(data, registry["shipments"], "jsonl").rows_out == 5


def test_bytes_that_only_look_like_gzip_are_read_as_text(registry):
    result = parse_object(b"\x1f\x8b\n" + GOOD, registry["shipments"], "jsonl")
    assert (result.rows_out, codes(result)) == (1, [(1, "encoding")])


def test_a_truncated_gzip_is_quarantined_whole(registry):
    data = gzip.compress(b"\n".join([GOOD] * 50))[:-20]
    result = parse_object(data, registry["shipments"], "jsonl")
    assert (result.lines_in, result.rows_out) == (1, 0)
    assert codes(result) == [(1, "decompress")]


def test_json_arrays_and_single_objects(registry):
    contract = registry["shipments"]
    array = b"[\n" + b",\n".join([GOOD, b"5", shipment(origin=...)]) + b"\n]"
    result = parse_object(array, contract, "json")
    assert (result.lines_in, result.rows_out) == (3, 1)
    assert codes(result) == [(2, "not_an_object"), (3, "missing_required")]
    pretty = json.dumps(json.loads(GOOD), indent=2).encode()
    assert parse_object(pretty, contract, "json").rows_out == 1
    assert codes(parse_object(b"[{oops", contract, "json")) == [(1, "json_decode")]
    assert parse_object(b"[]", contract, "json").lines_in == 0


def test_a_format_the_dataset_does_not_accept_is_quarantined_whole(registry):
    result = parse_object(b"a,b\n1,2\n", registry["shipments"], "csv")
    assert codes(result) == [(1, "unsupported_format")]
    assert codes(parse_object(GOOD, registry["shipments"], None)) == [(1, "unsupported_format")]


def test_all_null_optional_columns_keep_their_declared_type(registry):
    result = parse_object(shipment(carrier=..., weight_kg=None), registry["shipments"], "jsonl")
    assert result.table.schema.field("weight_kg").type == pa.float64()
    assert result.table.schema.field("carrier").type == pa.string()
    assert result.table.column("weight_kg").null_count == 1


def test_unknown_fields_are_dropped(registry):
    result = parse_object(shipment(surprise={"nested": [1, 2]}), registry["shipments"], "jsonl")
    assert result.rows_out == 1
    assert "surprise" not in result.table.column_names


def test_naive_timestamps_are_read_as_utc(registry):
    result = parse_object(
        shipment(event_time="2026-01-05T03:00:00"), registry["shipments"], "jsonl"
    )
    assert result.table.column("event_time")[0].as_py() == dt.datetime(2026, 1, 5, 3, tzinfo=dt.UTC)


def test_lists_and_their_element_types(registry):
    contract = registry["tracking_events"]
    base = {
        "event_id": "e1",
        "shipment_id": "s1",
        "event_time": "2026-01-05T03:00:00Z",
        "status": "created",
    }
    lines = [
        json.dumps({**base, "tags": tags}).encode() for tags in (["a", "b"], [], None, [1], "a")
    ]
    result = parse_object(b"\n".join(lines), contract, "jsonl")
    assert result.table.column("tags").to_pylist() == [["a", "b"], [], None]
    assert codes(result) == [(4, "type_mismatch"), (5, "type_mismatch")]


CSV_HEADER = b"transaction_id,account_id,booked_at,amount,currency,merchant,category,is_refund"


def test_csv_rows_are_typed_and_bad_rows_quarantined(registry):
    rows = [
        CSV_HEADER,
        b"t1,a1,2026-01-05T03:00:00Z,12.50,USD,Shop,food,false",
        b"",
        b"t2,a1,2026-01-05T03:00:00Z,abc,USD,,,TRUE",
        b"t3,a1",
        b't4,a2,2026-01-05T04:00:00+01:00,-1.00,EUR,"Multi\nline",x,0',
        b",a3,2026-01-05T03:00:00Z,1,USD,,,",
        b"t5,a3,2026-01-05T03:00:00Z,1,USD,Caf\xe9,,",
        b"t6,a3,2026-01-05T03:00:00Z,1,USD,,,maybe",
    ]
    result = parse_object(b"\r\n".join(rows) + b"\r\n", registry["transactions"], "csv")
    assert result.lines_in == 7
    assert codes(result) == [
        (4, "type_mismatch"), (5, "column_count"), (8, "missing_required"), (9, "encoding"), (10, "type_mismatch"),
    ]  # fmt: skip
    assert result.lines.tolist() == [2, 6]
    first, multi = result.table.to_pylist()
    assert first["amount"] == Decimal("12.50") and first["is_refund"] is False
    assert multi["merchant"] == "Multi\nline"
    assert multi["booked_at"] == dt.datetime(2026, 1, 5, 3, tzinfo=dt.UTC)
    assert result.bad[3].raw == b"t5,a3,2026-01-05T03:00:00Z,1,USD,Caf\xe9,,"


def test_csv_with_only_a_header_has_no_records(registry):
    result = parse_object(CSV_HEADER + b"\n", registry["transactions"], "csv")
    assert (result.lines_in, result.rows_out, result.rows_quarantined) == (0, 0, 0)


def test_silver_parquet_reads_back_as_the_contract_in_pyarrow_polars_and_pandas(registry):
    """The constant lineage columns are written dictionary-encoded and the Arrow schema is not
    stored, so what readers see must come from Parquet's own types: plain strings, UTC times."""
    import io

    import pandas as pd
    import polars as pl
    import pyarrow.parquet as pq

    from lambda_bridge.silver import to_parquet, with_lineage

    contract = registry["shipments"]
    body = b"\n".join([GOOD, shipment(shipment_id="shp_2", carrier=None)]) + b"\n"
    at = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    table = with_lineage(
        parse_object(body, contract, "jsonl"), contract, "bronze/k.jsonl", "v7", at
    )
    data = to_parquet(table, contract)

    back = pq.read_table(io.BytesIO(data))
    assert back.schema.equals(contract.silver_schema)
    assert back.column("_source_key").to_pylist() == ["bronze/k.jsonl"] * 2
    assert back.column("_source_version").to_pylist() == ["v7"] * 2
    assert back.column("_line").to_pylist() == [1, 2]
    frame = pl.read_parquet(io.BytesIO(data))
    assert frame.schema["_source_key"] == pl.String
    assert frame.schema["event_time"] == pl.Datetime("us", "UTC")
    assert frame["_source_version"].to_list() == ["v7", "v7"]
    pandas_frame = pq.read_table(io.BytesIO(data)).to_pandas()
    assert not isinstance(pandas_frame["_source_key"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_string_dtype(pandas_frame["_source_key"])
    assert pandas_frame["carrier"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    "invalid",
    [b"\x80", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xfe"],
    ids=["lone-continuation", "bad-continuation", "overlong", "surrogate", "past-u10ffff", "fe"],
)
def test_any_invalid_utf8_is_quarantined_and_valid_non_ascii_kept(registry, invalid):
    """A file is checked byte by byte only when it is not all ASCII: every kind of invalid
    sequence must still be found, and valid multi-byte text must reach silver unchanged."""
    contract = registry["shipments"]
    valid = shipment(carrier="Zürich Cargo ✈ 運送")
    spoiled = shipment(shipment_id="shp_2").replace(
        b'"origin": "SZX"', b'"origin": "S' + invalid + b'"'
    )
    result = parse_object(valid + b"\n" + spoiled + b"\n", contract, "jsonl")
    assert codes(result) == [(2, "encoding")]
    assert result.table.column("carrier").to_pylist() == ["Zürich Cargo ✈ 運送"]


def test_good_lines_read_in_several_groups_give_the_same_result(registry, monkeypatch):
    """A file with bad lines reads its good lines ~32 MB at a time (so the copy it makes stays
    small); cut into many tiny groups, the result must not change in any way."""
    from elt_assets.cli.samples import generate
    from lambda_bridge.parse import isolating

    contract = registry["shipments"]
    data = generate("shipments", "jsonl", 400, bad_ratio=0.05, seed=7).data
    whole = parse_object(data, contract, "jsonl")
    monkeypatch.setattr(isolating, "_JOIN_BYTES", 500)
    grouped = parse_object(data, contract, "jsonl")
    assert whole.rows_quarantined > 0 and grouped.table.column(0).num_chunks > 10
    assert grouped.table.equals(whole.table)
    assert grouped.lines.tolist() == whole.lines.tolist()
    assert grouped.bad == whole.bad
