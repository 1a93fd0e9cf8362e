"""Objects streamed through one transform (DESIGN §12): gzip JSONL and CSV, and CSV larger than a
block, read in blocks of whole records. The same bytes streamed and parsed whole give the same
silver rows (with the same `_line`), quarantine lines and counts, wherever the blocks fall; what
cannot be streamed is quarantined whole with its reason and leaves nothing else behind; memory
follows the block, not the object."""

import base64
import gzip
import io
import itertools
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import boto3
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_bridge import stream
from lambda_bridge.multipart import PartUpload
from lambda_bridge.parse import BOM, gunzip_pieces, parse_object
from lambda_bridge.process import process_object
from lambda_bridge.stream import DeadlineExceeded, _Stream
from lambda_bridge.transform import Transformer, make_handler

from .test_handlers import Context, pointer, sqs_event
from .test_parse_hardening import shipments_with

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
DAY = "2026-01-05"
HEADER = b"transaction_id,account_id,booked_at,amount,currency,merchant,category,is_refund"


def shipment(i: int, carrier: str = "UPS") -> bytes:
    record = {
        "record_type": "shipments", "event_time": "2026-01-05T03:00:00+00:00",
        "shipment_id": f"shp_{i}", "origin": "SZX", "destination": "SEA", "carrier": carrier,
        "weight_kg": 12.5,
    }  # fmt: skip
    return json.dumps(record).encode()


def txn(i: int, merchant: bytes = b"m", amount: bytes = b"1.25") -> bytes:
    return b"t%d,acc_%d,2026-01-05T03:00:00Z,%s,USD,%s,groceries,false" % (
        i,
        i % 7,
        amount,
        merchant,
    )


def jsonl_mixed(n: int = 60) -> bytes:
    """Good and bad lines in every block, blank and whitespace lines, CRLF, a BOM at the start
    and one mid-object, bytes that are not UTF-8, an epoch number (a hinted type mismatch)."""
    lines = []
    for i in range(n):
        lines.append(shipment(i) if i % 5 else b'{"shipment_id": oops')
        if i % 8 == 0:
            lines.append(b"")
        if i % 9 == 0:
            lines.append(b"  \t")
    lines[7] = BOM + lines[7]
    lines.insert(11, shipment(1000).replace(b'"2026-01-05T03:00:00+00:00"', b"1767582000"))
    lines.insert(13, b'{"shipment_id": "\xff\xfe"}')
    return BOM + b"\r\n".join(lines) + b"\r\n"


def csv_mixed(n: int = 40) -> bytes:
    """Quoted newlines (LF and CRLF), doubled quotes, a stray quote mid-field, a bare CR the
    reader cannot read, blank lines, rows of the wrong width, bad text and a bad amount."""
    odd = {0: b'"Shop\nacross lines"', 2: b'"say ""hi"""', 4: b'5"inch', 5: b'"two\r\nlines"'}
    rows = [HEADER]
    for i in range(n):
        rows.append(txn(i, odd.get(i % 7, b"m"), b"x.y" if i % 17 == 3 else b"1.25"))
        if i % 9 == 0:
            rows.append(b"")
        if i % 11 == 0:
            rows.append(b"bad,row")
        if i % 13 == 0:
            rows.append(txn(1000 + i, b"caf\xe9"))
    rows.insert(20, txn(2000, b"m\rx"))
    return BOM + b"\r\n".join(rows) + b"\r\n"


def members(data: bytes, *cuts: int) -> bytes:
    """`data` as several gzip members (cut anywhere, mid-line too), with zero padding."""
    bounds = [0, *cuts, len(data)]
    return b"\x00\x00".join(gzip.compress(data[a:b]) for a, b in itertools.pairwise(bounds))


# -- the same bytes, streamed and whole ---------------------------------------------------------


def summary(results) -> tuple[list, list, int]:
    """Rows (with `_line`), quarantined lines and lines_in of parse results, in line order."""
    rows, bad, lines_in = [], [], 0
    for result in results:
        rows += [
            {**r, "_line": int(n)}
            for r, n in zip(result.table.to_pylist(), result.lines, strict=True)
        ]
        bad += [(b.line, b.code.value, b.error, bytes(b.raw), b.truncated) for b in result.bad]
        lines_in += result.lines_in
    return sorted(rows, key=lambda r: r["_line"]), sorted(bad), lines_in


def streamed(data: bytes, contract, fmt: str, window: int, piece: int = 7, limit=None):
    """Parse `data` (gzip or not) as the transform streams it, the source in `piece`-byte reads."""
    source = (data[i : i + piece] for i in range(0, len(data), piece))
    if data[:3] == b"\x1f\x8b\x08":
        source = gunzip_pieces(source)
    reader = _Stream(contract, fmt, window, limit, None)
    return summary(r for r, _ in reader.blocks(source)), reader


def put(s, key: str, body: bytes) -> str:
    return boto3.client("s3").put_object(Bucket=s.bronze_bucket, Key=key, Body=body)["VersionId"]


def stored(s, contract, manifest: dict) -> tuple[list, list, int]:
    """What the silver bucket holds for one manifest, as `summary` gives it."""
    s3 = boto3.client("s3")
    rows, bad = [], []
    if manifest["silver_key"]:
        body = s3.get_object(Bucket=s.silver_bucket, Key=manifest["silver_key"])["Body"].read()
        table = pq.read_table(io.BytesIO(body))
        rows = table.select([*contract.column_names, "_line"]).to_pylist()
    if manifest["quarantine_key"]:
        body = s3.get_object(Bucket=s.silver_bucket, Key=manifest["quarantine_key"])["Body"].read()
        for line in body.splitlines():
            r = json.loads(line)
            raw = base64.b64decode(r["raw_base64"]) if "raw_base64" in r else r["raw"].encode()
            bad.append(
                (r["_line"], r["_error_code"], r["_error"], raw, r.get("_raw_truncated", False))
            )
    return sorted(rows, key=lambda r: r["_line"]), sorted(bad), manifest["lines_in"]


def transform(mocked, contract, key: str, body: bytes, **options):
    s = mocked.settings
    version = put(s, key, body)
    return process_object(
        boto3.client("s3"), contract, s.silver_bucket, s.bronze_bucket, key, version, **options
    )


def leftovers(s) -> list:
    return boto3.client("s3").list_multipart_uploads(Bucket=s.silver_bucket).get("Uploads", [])


CASES = [
    ("gzip JSONL", "shipments", "jsonl", gzip.compress(jsonl_mixed())),
    ("multi-member gzip JSONL", "shipments", "jsonl", members(jsonl_mixed(), 333, 1500, 1501)),
    ("gzip JSONL, no final newline", "shipments", "jsonl", gzip.compress(jsonl_mixed()[:-2])),
    (
        "gzip JSONL, a line longer than a block",
        "shipments",
        "jsonl",
        gzip.compress(b"\n".join([shipment(1), shipment(2, "X" * 3000), b"{bad"] * 3)),
    ),
    ("gzip CSV", "transactions", "csv", gzip.compress(csv_mixed())),
    ("plain CSV", "transactions", "csv", csv_mixed()),
    ("plain CSV, the header after blank lines", "transactions", "csv", b"\n\r\n" + csv_mixed()),
    (
        "plain CSV, a broken quote to the end",
        "transactions",
        "csv",
        csv_mixed() + txn(99, b'"never closed') + b"\n" + txn(100) + b"\n",
    ),
]


@pytest.mark.parametrize("window", [1, 97, 1500])
@pytest.mark.parametrize(("case", "dataset", "fmt", "body"), CASES, ids=[c[0] for c in CASES])
def test_a_streamed_object_holds_exactly_what_the_whole_object_holds(
    mocked, registry, case, dataset, fmt, body, window
):
    contract = registry[dataset]
    key = f"bronze/{dataset}/dt={DAY}/{case.replace(' ', '_').replace(',', '')}.{fmt}"
    key += ".gz" if body[:2] == b"\x1f\x8b" else ""
    outcome = transform(mocked, contract, key, body, chunk_bytes=window)
    assert outcome.status == "processed" and outcome.result is None, "streamed in blocks"
    whole = parse_object(body, contract, fmt)
    assert stored(mocked.settings, contract, outcome.manifest) == summary([whole]), case
    m = outcome.manifest
    assert (m["lines_in"], m["rows_out"], m["rows_quarantined"]) == (
        whole.lines_in, whole.rows_out, whole.rows_quarantined,
    )  # fmt: skip
    assert m["quarantine_by_code"] == whole.counts_by_code()
    assert m["source"]["size"] == len(body)
    assert whole.rows_out and whole.rows_quarantined, "the case has rows of both kinds"


def test_a_quoted_newline_across_the_block_boundary_stays_in_its_record(registry):
    contract = registry["transactions"]
    rows = [HEADER, txn(1), txn(2, b'"first half\nsecond half"'), txn(3)]
    data = b"\n".join(rows) + b"\n"
    inside = data.index(b"first half\n") + len(b"first half\n")
    assert data[:inside].count(b'"') % 2, "the window's last newline is inside the quotes"
    result, _ = streamed(data, contract, "csv", window=inside)
    assert result == summary([parse_object(data, contract, "csv")])
    merchants = {r["transaction_id"]: (r["merchant"], r["_line"]) for r in result[0]}
    assert merchants["t2"] == ("first half\nsecond half", 3)
    assert merchants["t3"][1] == 5  # after the two physical lines of t2


def test_the_silver_file_is_the_whole_objects_in_schema_and_encoding(mocked, registry):
    contract = registry["transactions"]
    body = csv_mixed(200)
    whole = transform(mocked, contract, f"bronze/transactions/dt={DAY}/w.csv", body)
    parts = transform(
        mocked, contract, f"bronze/transactions/dt={DAY}/p.csv", body, chunk_bytes=2000
    )
    s3 = boto3.client("s3")
    files = [
        pq.ParquetFile(io.BytesIO(s3.get_object(Bucket=mocked.settings.silver_bucket, Key=key)["Body"].read()))
        for key in (whole.manifest["silver_key"], parts.manifest["silver_key"])
    ]  # fmt: skip
    assert whole.result is not None and parts.result is None
    assert files[0].schema_arrow == files[1].schema_arrow
    assert files[0].schema == files[1].schema  # the Parquet types, logical types included
    assert files[1].metadata.num_row_groups > 1, "one row group per block"

    def encodings(f):
        group = f.metadata.row_group(0)
        return [
            (group.column(i).compression, set(group.column(i).encodings))
            for i in range(group.num_columns)
        ]

    assert encodings(files[0]) == encodings(files[1])


_JSONL_KINDS = {
    "good": lambda i: shipment(i),
    "bad": lambda i: b'{"shipment_id": ' + str(i).encode(),
    "blank": lambda i: b"",
    "spaces": lambda i: b" \t ",
    "crlf": lambda i: shipment(i) + b"\r",
    "null": lambda i: b"null",
    "bom": lambda i: BOM + shipment(i),
    "latin1": lambda i: shipment(i).replace(b"UPS", b"caf\xe9"),
    "empty object": lambda i: b"{}",
    "wide": lambda i: shipment(i, "X" * 400),
}
_CSV_KINDS = {
    "good": lambda i: txn(i),
    "quoted newline": lambda i: txn(i, b'"a\nb"'),
    "quoted CRLF": lambda i: txn(i, b'"a\r\nb\r\n"'),
    "doubled quotes": lambda i: txn(i, b'"say ""x"""'),
    "stray quote": lambda i: txn(i, b'5"inch'),
    "bare CR": lambda i: txn(i, b"m\rx"),
    "short": lambda i: b"t%d,only" % i,
    "blank": lambda i: b"",
    "latin1": lambda i: txn(i, b"caf\xe9"),
    "bad amount": lambda i: txn(i, amount=b"lots"),
    "crlf": lambda i: txn(i) + b"\r",
}


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    fmt=st.sampled_from(["jsonl", "csv"]),
    kinds=st.lists(st.integers(0, 10), max_size=30),
    window=st.integers(1, 600),
    piece=st.integers(1, 64),
    bom=st.booleans(),
    gz=st.sampled_from(["no", "one member", "members"]),
    final_newline=st.booleans(),
)
def test_wherever_the_blocks_fall_the_stream_is_the_whole_object(
    registry, fmt, kinds, window, piece, bom, gz, final_newline
):
    table = _CSV_KINDS if fmt == "csv" else _JSONL_KINDS
    makers = list(table.values())
    lines = [makers[k % len(makers)](i) for i, k in enumerate(kinds)]
    if fmt == "csv":
        lines.insert(0, HEADER)
    data = (BOM if bom else b"") + b"\n".join(lines) + (b"\n" if final_newline else b"")
    if gz == "one member":
        data = gzip.compress(data)
    elif gz == "members":
        data = members(data, len(data) // 3, len(data) // 2)
    contract = registry["transactions" if fmt == "csv" else "shipments"]
    result, _ = streamed(data, contract, fmt, window, piece)
    assert result == summary([parse_object(data, contract, fmt)])


def test_a_record_over_max_line_bytes_is_line_too_long_as_in_the_whole_object(registry):
    contract = shipments_with(registry, max_line_bytes=2048)
    data = b"\n".join([shipment(1), shipment(2, "X" * 5000), shipment(3)]) + b"\n"
    result, _ = streamed(gzip.compress(data), contract, "jsonl", window=300)
    assert result == summary([parse_object(data, contract, "jsonl")])
    assert [(b[0], b[1]) for b in result[1]] == [(2, "line_too_long")]


def test_unreadable_csv_records_no_longer_swallow_the_rows_after_them(registry):
    """A stray CR or a field over the reader's limit ends that record, not the object."""
    contract = registry["transactions"]
    huge = b'"' + b"y" * 140_000  # a broken quote, until the reader's field limit
    data = b"\n".join([HEADER, txn(1), txn(2, b"m\rx"), txn(3), txn(4, huge), txn(5)]) + b"\n"
    whole = parse_object(data, contract, "csv")
    assert sorted(whole.lines.tolist()) == [2, 4, 6]
    assert [(b.line, b.code.value) for b in whole.bad] == [(3, "column_count"), (5, "column_count")]
    assert whole.lines_in == 5
    result, _ = streamed(data, contract, "csv", window=4096, piece=1000)
    assert result == summary([whole])


# -- what cannot be streamed --------------------------------------------------------------------


def test_a_gzip_truncated_after_blocks_went_out_is_quarantined_whole_and_leaves_nothing(
    mocked, registry, monkeypatch, tmp_path
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    contract, s = registry["shipments"], mocked.settings
    key = f"bronze/shipments/dt={DAY}/cut.jsonl.gz"
    good = gzip.compress(jsonl_mixed(300))
    first = transform(mocked, contract, key, good, chunk_bytes=500)  # an earlier version's rows
    assert first.manifest["silver_key"] is not None
    truncated = good[:-200]
    outcome = transform(mocked, contract, key, truncated, chunk_bytes=500)
    m = outcome.manifest
    assert (m["lines_in"], m["rows_out"], m["quarantine_by_code"]) == (1, 0, {"decompress": 1})
    assert m["silver_key"] is None and m["source"]["size"] == len(truncated)
    (record,) = stored(s, contract, m)[1]
    limited = parse_object(truncated, contract, "jsonl", max_bytes=10 << 20)  # the Lambda's reader
    assert record == summary([limited])[1][0]
    assert "ended before the end-of-stream marker" in record[2]
    objects = boto3.client("s3").list_objects_v2(Bucket=s.silver_bucket, Prefix="silver/")
    assert objects.get("KeyCount", 0) == 0, "the earlier version's rows are withdrawn"
    assert leftovers(s) == [] and os.listdir(tmp_path) == []


def test_a_corrupt_gzip_member_midway_is_quarantined_whole(mocked, registry):
    contract = registry["shipments"]
    body = bytearray(members(jsonl_mixed(200), 4000))
    body[len(body) - 30] ^= 0xFF  # the last member's data or checksum
    outcome = transform(
        mocked, contract, f"bronze/shipments/dt={DAY}/bad.jsonl.gz", bytes(body), chunk_bytes=300
    )
    assert outcome.manifest["quarantine_by_code"] == {"decompress": 1}
    assert outcome.manifest["lines_in"] == 1 and outcome.manifest["rows_out"] == 0


def test_a_deadline_already_passed_quarantines_the_object_whole_with_the_reason(mocked, registry):
    contract, s = registry["shipments"], mocked.settings
    key = f"bronze/shipments/dt={DAY}/slow.jsonl.gz"
    body = gzip.compress(jsonl_mixed(100))
    assert transform(mocked, contract, key, body).manifest["silver_key"]  # an earlier version
    outcome = transform(mocked, contract, key, body, deadline=time.monotonic() - 1)
    m = outcome.manifest
    assert (m["lines_in"], m["rows_out"], m["quarantine_by_code"]) == (1, 0, {"too_large": 1})
    (record,) = stored(s, contract, m)[1]
    assert "could not be transformed within the function's time" in record[2]
    assert record[3] == body[: len(record[3])] and record[4] is True  # its first bytes, as is
    objects = boto3.client("s3").list_objects_v2(Bucket=s.silver_bucket, Prefix="silver/")
    assert objects.get("KeyCount", 0) == 0, "no silver left"


def test_running_out_of_time_midway_drops_the_files_already_begun(
    mocked, registry, monkeypatch, tmp_path
):
    """By then silver and quarantine parts have gone out: the uploads are aborted, and nothing
    is left at the keys, in S3's pending uploads or on local disk."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("lambda_bridge.quarantine.QUARANTINE_PART_BYTES", 1024)
    monkeypatch.setattr("lambda_bridge.multipart.PART_BYTES", 1024)
    ticks = itertools.count()
    monkeypatch.setattr(stream, "_clock", lambda: 0.0 if next(ticks) < 40 else 100.0)
    aborted: list[str | None] = []
    abort = PartUpload.abort
    monkeypatch.setattr(
        PartUpload, "abort", lambda self: (aborted.append(self._upload_id), abort(self))
    )
    contract = registry["shipments"]
    outcome = transform(
        mocked, contract, f"bronze/shipments/dt={DAY}/long.jsonl.gz",
        gzip.compress(jsonl_mixed(2000)), chunk_bytes=400, deadline=50.0,
    )  # fmt: skip
    m = outcome.manifest
    assert (m["lines_in"], m["quarantine_by_code"], m["silver_key"]) == (1, {"too_large": 1}, None)
    (record,) = stored(mocked.settings, contract, m)[1]
    assert "within the function's time" in record[2] and " 0 bytes" not in record[2]
    assert sum(1 for upload in aborted if upload) == 2, "silver and quarantine parts had gone out"
    assert leftovers(mocked.settings) == [] and os.listdir(tmp_path) == []


def test_a_late_message_out_of_time_is_retried_not_quarantined(mocked, registry):
    contract, s = registry["shipments"], mocked.settings
    key = f"bronze/shipments/dt={DAY}/late.jsonl.gz"
    with pytest.raises(DeadlineExceeded, match="retry"):
        transform(
            mocked, contract, key, gzip.compress(jsonl_mixed()),
            deadline=time.monotonic() - 1, late_retries=True,
        )  # fmt: skip
    objects = boto3.client("s3").list_objects_v2(Bucket=s.silver_bucket)
    assert objects.get("KeyCount", 0) == 0 and leftovers(s) == []


def test_the_transform_gives_each_message_the_invocations_time(mocked, registry):
    s = mocked.settings
    small = f"bronze/shipments/dt={DAY}/small.jsonl"
    big = f"bronze/shipments/dt={DAY}/t.jsonl.gz"
    batch = sqs_event(
        pointer(s, small, put(s, small, shipment(1))),
        pointer(s, big, put(s, big, gzip.compress(jsonl_mixed()))),
    )
    app = Transformer(s, registry, boto3.client("s3"))
    handler = make_handler(app)

    class NoTimeLeft(Context):
        def get_remaining_time_in_millis(self) -> int:
            return 0

    # No time at all: the streamed object is late, so it fails for a retry, not a quarantine;
    # an object read whole has no deadline.
    assert handler(batch, NoTimeLeft()) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    manifests = boto3.client("s3").list_objects_v2(Bucket=s.silver_bucket, Prefix="_manifests/")
    assert [o["Key"].endswith(".json") for o in manifests["Contents"]] == [True]
    assert handler(batch, Context()) == {"batchItemFailures": []}
    start = time.monotonic()
    app._time = (start, 120.0)
    first = app._deadline()
    assert first["late_retries"] is False and first["deadline"] == pytest.approx(start + 96.0)
    app._time = (start - 60.0, 120.0)  # half the invocation's time already gone
    assert app._deadline()["late_retries"] is True


def test_max_bytes_bounds_a_record_of_a_streamed_object_not_the_object(mocked, registry):
    contract = registry["shipments"]
    many = gzip.compress(b"\n".join(shipment(i) for i in range(500)) + b"\n")
    outcome = transform(
        mocked, contract, f"bronze/shipments/dt={DAY}/many.jsonl.gz", many, max_bytes=4096
    )
    assert outcome.manifest["rows_out"] == 500, "an object 20 times the limit, streamed whole"
    one_long = gzip.compress(b"\n".join([shipment(1), shipment(2, "X" * 8000), shipment(3)]))
    outcome = transform(
        mocked, contract, f"bronze/shipments/dt={DAY}/long.jsonl.gz", one_long, max_bytes=4096
    )
    m = outcome.manifest
    assert (m["lines_in"], m["rows_out"], m["quarantine_by_code"]) == (1, 0, {"too_large": 1})
    (record,) = stored(mocked.settings, contract, m)[1]
    assert "the record at line 2 is at least" in record[2] and "4096 bytes" in record[2]


def test_a_large_quarantine_goes_out_as_a_multipart_upload(mocked, registry):
    contract = registry["shipments"]
    bad = [b'{"shipment_id": "%d", "pad": "%s' % (i, b"p" * 4000) for i in range(5000)]
    body = gzip.compress(b"\n".join(bad) + b"\n")
    outcome = transform(mocked, contract, f"bronze/shipments/dt={DAY}/bad.jsonl.gz", body)
    assert outcome.result is None and outcome.manifest["rows_quarantined"] == 5000
    got = stored(mocked.settings, contract, outcome.manifest)
    assert got == summary([parse_object(body, contract, "jsonl")])
    head = boto3.client("s3").head_object(
        Bucket=mocked.settings.silver_bucket, Key=outcome.manifest["quarantine_key"]
    )
    assert "-" in head["ETag"], "a multipart upload's ETag"


# -- memory follows the block, not the object ---------------------------------------------------


def test_no_block_parsed_is_larger_than_the_window(registry):
    """Blocks are cut at the last record end within the window; only a record longer than the
    window makes one larger (it is then that record)."""
    for fmt, contract, data in (
        ("jsonl", registry["shipments"], gzip.compress(jsonl_mixed(3000))),
        ("csv", registry["transactions"], csv_mixed(2000)),
    ):
        window = 4096
        _, reader = streamed(data, contract, fmt, window, piece=1000)
        assert 0 < reader.largest <= window, fmt


_MEASURE = textwrap.dedent(
    """
    import json, sys, tracemalloc, zlib
    import pyarrow as pa
    from lambda_bridge.contracts import ContractRegistry
    from lambda_bridge.parse import gunzip_pieces
    from lambda_bridge.stream import _Stream

    contract = ContractRegistry.load()["shipments"]
    line = (b'{"record_type":"shipments","event_time":"2026-01-05T03:00:00+00:00",'
            b'"shipment_id":"shp_%d","origin":"SZX","destination":"SEA","carrier":"UPS",'
            b'"weight_kg":12.5}')

    def source(n):  # gzip JSONL made as it is read: the test holds no more of it than a piece
        z = zlib.compressobj(wbits=31)
        for start in range(0, n, 1000):
            batch = [line % i if i % 97 else b'{"oops' for i in range(start, min(n, start + 1000))]
            yield z.compress(b"\\n".join(batch) + b"\\n")
        yield z.flush()

    n, window = int(sys.argv[1]), int(sys.argv[2])
    tracemalloc.start()
    reader = _Stream(contract, "jsonl", window, None, None)
    rows = sum(result.rows_out for result, _ in reader.blocks(gunzip_pieces(source(n))))
    print(json.dumps({"bytes": reader.read, "rows": rows, "largest": reader.largest,
                      "python": tracemalloc.get_traced_memory()[1],
                      "arrow": pa.default_memory_pool().max_memory()}))
    """
)


def _peaks(lines: int, window: int) -> dict:
    """Peak memory of streaming `lines` lines, in a fresh process: Python's (tracemalloc) and
    Arrow's (its pool's high-water mark, which only a new process starts from zero)."""
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(lines), str(window)],
        capture_output=True, text=True, check=True, timeout=240,
    )  # fmt: skip
    return json.loads(run.stdout)


def test_peak_memory_follows_the_window_not_the_object():
    window = 256 << 10
    small, large = _peaks(20_000, window), _peaks(80_000, window)
    assert large["bytes"] > 3.9 * small["bytes"] and large["rows"] > 3.9 * small["rows"]
    assert small["bytes"] > 10 * window, "many blocks even in the smaller object"
    for kind in ("python", "arrow"):
        # Memory that followed the object would grow 4 times; a bounded one stays put.
        assert large[kind] < 1.5 * small[kind], (kind, small, large)
        assert large[kind] < 40 * window, (kind, large)
