"""Large objects split into byte ranges (DESIGN §12): the chunks of an object hold exactly the
lines the whole object holds, once, wherever the boundaries fall; a new version replaces all of
an object's chunks; duplicates and stale chunks change nothing."""

import io
import itertools
import json

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elt_assets.lib.state import complete_objects, partition_manifests, partition_totals, summarise
from lambda_bridge.chunk_reader import read_chunk
from lambda_bridge.chunks import Chunk, plan_chunks
from lambda_bridge.config import Settings
from lambda_bridge.idempotency import persistence_layer
from lambda_bridge.ingest import Ingester
from lambda_bridge.ingest import make_handler as make_ingest
from lambda_bridge.keys import index_key, part_id
from lambda_bridge.messages import Pointer
from lambda_bridge.process import process_object

from .test_handlers import Context, queue_messages, s3_event

DAY = "2026-01-05"
_ids = itertools.count()


def shipment(carrier: str = "UPS") -> bytes:
    record = {
        "record_type": "shipments", "event_time": "2026-01-05T03:00:00+00:00",
        "shipment_id": f"shp_{next(_ids)}", "origin": "SZX", "destination": "SEA",
        "carrier": carrier, "weight_kg": 12.5,
    }  # fmt: skip
    return json.dumps(record, ensure_ascii=False).encode()


def put(s: Settings, key: str, body: bytes) -> str | None:
    return boto3.client("s3").put_object(Bucket=s.bronze_bucket, Key=key, Body=body)["VersionId"]


def outcome_rows(s: Settings, contract, manifests: list[dict]) -> tuple[list, list, int]:
    """The silver rows (data columns, in line order), quarantined raw lines and lines_in."""
    s3 = boto3.client("s3")
    ordered = sorted(manifests, key=lambda m: (m.get("chunk") or {"index": 0})["index"])
    rows, bad = [], []
    for m in ordered:
        if m["silver_key"]:
            body = s3.get_object(Bucket=s.silver_bucket, Key=m["silver_key"])["Body"].read()
            table = pq.read_table(io.BytesIO(body)).sort_by("_line")
            rows += table.select([c.name for c in contract.columns]).to_pylist()
        if m["quarantine_key"]:
            body = s3.get_object(Bucket=s.silver_bucket, Key=m["quarantine_key"])["Body"].read()
            records = sorted(
                (json.loads(line) for line in body.splitlines()), key=lambda r: r["_line"]
            )
            bad += [(r["raw"], r["_error_code"]) for r in records]
    return rows, bad, sum(m["lines_in"] for m in manifests)


def whole_and_chunked(mocked, registry, body: bytes, chunk_bytes: int, name: str = "obj"):
    """The same bytes under two keys: one processed whole, one chunk by chunk."""
    s, contract = mocked.settings, registry["shipments"]
    s3 = boto3.client("s3")
    whole_key = f"bronze/shipments/dt={DAY}/{name}-whole.jsonl"
    split_key = f"bronze/shipments/dt={DAY}/{name}-split.jsonl"
    put(s, whole_key, body)
    version = put(s, split_key, body)
    whole = process_object(s3, contract, s.silver_bucket, s.bronze_bucket, whole_key)
    plan = plan_chunks(split_key, len(body), chunk_bytes)
    assert plan is not None and len(plan) == -(-len(body) // chunk_bytes)
    chunked = [
        process_object(
            s3, contract, s.silver_bucket, s.bronze_bucket, split_key, version,
            chunk=c, chunk_bytes=chunk_bytes,
        ).manifest
        for c in plan
    ]  # fmt: skip
    return outcome_rows(s, contract, [whole.manifest]), outcome_rows(s, contract, chunked), chunked


def boundary_cases() -> list[tuple[str, bytes, int]]:
    a, b, c = shipment(), shipment(), shipment()
    return [
        # The newline of the first line is the chunk's last byte: the next line starts a chunk.
        ("line ends exactly at the boundary", a + b"\n" + b + b"\n", len(a) + 1),
        ("line starts one byte after the boundary", a + b"\n" + b + b"\n", len(a)),
        ("a line longer than a chunk", a + b"\n" + b + b"\n" + c + b"\n", 7),
        ("CRLF split across the boundary", a + b"\r\n" + b + b"\r\n", len(a) + 1),
        (
            "a multi-byte character across the boundary",
            shipment("DHL\u00e9\u4e2d") + b"\n" + b + b"\n",
            len(b'{"record_type": "shipments", "event_time": "2026-01-05T03:00:00+00:00", '),
        ),
        ("a BOM", b"\xef\xbb\xbf" + a + b"\n" + b + b"\n", len(a) // 2),
        # The last chunk only holds the end of a line that started in the one before.
        ("an empty last chunk", a + b"\n" + b + b"xxxx", len(a) + 1 + len(b)),
        ("no final newline", a + b"\n" + b, len(a) // 2),
        ("blank lines", a + b"\n\n\n" + b + b"\n\n", len(a) + 2),
    ]


@pytest.mark.parametrize(
    ("case", "body", "chunk_bytes"), boundary_cases(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_chunks_hold_exactly_the_lines_of_the_whole_object(
    mocked, registry, case, body, chunk_bytes
):
    (rows, bad, lines), (c_rows, c_bad, c_lines), manifests = whole_and_chunked(
        mocked, registry, body, chunk_bytes
    )
    assert (c_rows, c_bad, c_lines) == (rows, bad, lines), case
    assert all(m["lines_in"] == m["rows_out"] + m["rows_quarantined"] for m in manifests)


def test_a_bad_line_in_every_chunk_is_quarantined_by_that_chunk(mocked, registry):
    lines = [shipment() if i % 3 else b'{"shipment_id": oops' for i in range(30)]
    body = b"\n".join(lines) + b"\n"
    _, (rows, bad, total), manifests = whole_and_chunked(mocked, registry, body, len(body) // 9)
    assert total == 30 and len(rows) == 20 and len(bad) == 10
    assert {r[1] for r in bad} == {"json_decode"}
    assert all(m["rows_quarantined"] >= 1 for m in manifests if m["lines_in"] >= 3)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kinds=st.lists(st.sampled_from(["good", "bad", "blank", "crlf", "wide", "long"]), max_size=25),
    chunk_fraction=st.floats(0.02, 1.0),
    final_newline=st.booleans(),
)
def test_the_union_of_chunks_is_the_unchunked_result_row_for_row(
    mocked, registry, kinds, chunk_fraction, final_newline
):
    pieces = []
    for kind in kinds:
        pieces.append({
            "good": shipment(), "bad": b"{not json", "blank": b"", "crlf": shipment() + b"\r",
            "wide": shipment("\u00e9\u4e2d\U0001f600"), "long": shipment("X" * 3000),
        }[kind])  # fmt: skip
    body = b"\n".join(pieces) + (b"\n" if final_newline else b"")
    if len(body) < 2:
        body = shipment() + b"\n"
    chunk_bytes = max(1, min(len(body) - 1, int(len(body) * chunk_fraction)))
    whole, chunked, _ = whole_and_chunked(mocked, registry, body, chunk_bytes, f"p{next(_ids)}")
    assert chunked == whole


def test_read_chunk_never_reads_past_the_end_of_its_last_line(mocked):
    s = mocked.settings
    line = b"x" * 100 + b"\n"
    put(s, "bronze/shipments/r.jsonl", line * 50)
    s3 = boto3.client("s3")
    data, _ = read_chunk(
        s3, {"Bucket": s.bronze_bucket, "Key": "bronze/shipments/r.jsonl"}, Chunk(1, 150, 250, 51)
    )
    # Lines start at 101, 202, 303...: this chunk owns the ones at 202 (in [150, 250)).
    assert data == line


def test_ingest_sends_one_message_per_chunk_of_a_large_object_only(mocked, registry):
    s = Settings(**{**mocked.settings.__dict__, "chunk_bytes": 1000})
    persistence = persistence_layer(s.idempotency_table, boto3.client("dynamodb"))
    ingest = make_ingest(Ingester(s, registry, boto3.client("sqs"), persistence))
    for key, size in (
        ("bronze/shipments/big.jsonl", 4500),
        ("bronze/shipments/small.jsonl", 1000),
        ("bronze/shipments/big.jsonl.gz", 4500),  # gzip cannot start mid-way: whole
        ("bronze/shipments/big.json", 4500),  # one JSON value: whole
    ):
        event = s3_event(s.bronze_bucket, key, "v1")
        event["Records"][0]["s3"]["object"]["size"] = size
        ingest(event, Context())
    pointers = [Pointer.from_json(m["Body"]) for m in queue_messages(s)]
    chunks = sorted((p.chunk.index, p.chunk.start, p.chunk.end) for p in pointers if p.chunk)
    assert chunks == [
        (0, 0, 1000),
        (1, 1000, 2000),
        (2, 2000, 3000),
        (3, 3000, 4000),
        (4, 4000, 4500),
    ]
    assert all(p.chunk.count == 5 for p in pointers if p.chunk)
    assert sorted(p.key for p in pointers if p.chunk is None) == [
        "bronze/shipments/big.json", "bronze/shipments/big.jsonl.gz", "bronze/shipments/small.jsonl",
    ]  # fmt: skip
    # The same S3 delivery again: the object's idempotency record covers all its chunks.
    event = s3_event(s.bronze_bucket, "bronze/shipments/big.jsonl", "v1")
    event["Records"][0]["s3"]["object"]["size"] = 4500
    assert ingest(event, Context())["duplicates"] == 1
    assert queue_messages(s) == []


def _split_object(s, key, records, parts):
    """`records` shipments under `key`, and the plan that splits them into `parts` chunks."""
    body = b"".join(shipment() + b"\n" for _ in range(records))
    version = put(s, key, body)
    chunk_bytes = len(body) // parts + 1
    return body, version, chunk_bytes, plan_chunks(key, len(body), chunk_bytes)


def _one(s, contract, key, version, chunk, chunk_bytes):
    """One chunk's transform, as its pointer message would run it."""
    return process_object(
        boto3.client("s3"), contract, s.silver_bucket, s.bronze_bucket, key, version,
        chunk=chunk, chunk_bytes=chunk_bytes,
    )  # fmt: skip


def _chunk_all(s, contract, key, version, size, chunk_bytes):
    s3 = boto3.client("s3")
    plan = plan_chunks(key, size, chunk_bytes) or [None]
    return [
        process_object(
            s3, contract, s.silver_bucket, s.bronze_bucket, key, version,
            chunk=c, chunk_bytes=chunk_bytes,
        )
        for c in plan
    ]  # fmt: skip


def test_a_new_version_with_fewer_chunks_leaves_nothing_of_the_old_ones(mocked, registry):
    s, contract = mocked.settings, registry["shipments"]
    key = f"bronze/shipments/dt={DAY}/nightly.jsonl"
    old = b"".join(shipment() + b"\n" for _ in range(40))
    v1 = put(s, key, old)
    assert len(_chunk_all(s, contract, key, v1, len(old), len(old) // 4 + 1)) == 4
    new = b"".join(shipment() + b"\n" for _ in range(10))
    v2 = put(s, key, new)
    assert len(_chunk_all(s, contract, key, v2, len(new), len(old) // 4 + 1)) == 1
    s3 = boto3.client("s3")
    manifests = partition_manifests(s3, s.silver_bucket, "shipments", DAY)
    assert {m["source"]["version_id"] for m in manifests} == {v2}
    assert partition_totals(manifests)["rows_out"] == 10
    assert summarise(s3, s.silver_bucket, "shipments").silver_rows == 10
    for index in (1, 2, 3):
        pid = part_id(s.bronze_bucket, key, index)
        assert (
            s3.list_objects_v2(Bucket=s.silver_bucket, Prefix=index_key("shipments", pid))[
                "KeyCount"
            ]
            == 0
        )


def test_a_chunk_delivered_twice_and_a_stale_chunk_change_nothing(mocked, registry):
    s, contract = mocked.settings, registry["shipments"]
    s3 = boto3.client("s3")
    key = f"bronze/shipments/dt={DAY}/export.jsonl"
    body, v1, chunk_bytes, plan = _split_object(s, key, 30, 3)
    first = [
        o.manifest["rows_out"] for o in _chunk_all(s, contract, key, v1, len(body), chunk_bytes)
    ]
    again = _one(s, contract, key, v1, plan[1], chunk_bytes)
    assert again.status == "processed"
    totals = partition_totals(partition_manifests(s3, s.silver_bucket, "shipments", DAY))
    assert totals["rows_out"] == sum(first) == 30 and totals["objects"] == 1
    assert summarise(s3, s.silver_bucket, "shipments").silver_rows == 30
    # A new version lands while v1's last chunk is still in flight: newest wins across chunks.
    v2 = put(s, key, body[: len(body) // 2])
    _chunk_all(s, contract, key, v2, len(body) // 2, chunk_bytes)
    late = _one(s, contract, key, v1, plan[2], chunk_bytes)
    assert late.status == "stale"
    manifests = partition_manifests(s3, s.silver_bucket, "shipments", DAY)
    assert {m["source"]["version_id"] for m in manifests} == {v2}
    assert partition_totals(manifests)["rows_out"] == 15
    assert summarise(s3, s.silver_bucket, "shipments").silver_rows == 15


def test_an_object_counts_once_and_only_when_every_chunk_landed(mocked, registry):
    s, contract = mocked.settings, registry["shipments"]
    s3 = boto3.client("s3")
    key = f"bronze/shipments/dt={DAY}/part.jsonl"
    body, version, chunk_bytes, plan = _split_object(s, key, 20, 4)
    for c in plan[:-1]:
        _one(s, contract, key, version, c, chunk_bytes)
    manifests = partition_manifests(s3, s.silver_bucket, "shipments", DAY)
    assert complete_objects(manifests) == set()
    _one(s, contract, key, version, plan[-1], chunk_bytes)
    manifests = partition_manifests(s3, s.silver_bucket, "shipments", DAY)
    assert complete_objects(manifests) == {key}
    assert partition_totals(manifests)["objects"] == 1
    assert partition_totals(manifests)["bytes_in"] == len(body)
    table = pa.concat_tables(
        pq.read_table(
            io.BytesIO(s3.get_object(Bucket=s.silver_bucket, Key=m["silver_key"])["Body"].read())
        )
        for m in manifests
    )
    assert table.num_rows == 20


def test_one_chunk_failing_is_retried_alone_and_the_object_ends_exactly_once(mocked, registry):
    from botocore.exceptions import ClientError

    from lambda_bridge.transform import Transformer
    from lambda_bridge.transform import make_handler as make_transform

    from .test_handlers import sqs_event

    s = mocked.settings
    real = boto3.client("s3")
    key = f"bronze/shipments/dt={DAY}/nightly.jsonl"
    body, version, chunk_bytes, plan = _split_object(s, key, 30, 3)
    settings = Settings(**{**s.__dict__, "chunk_bytes": chunk_bytes})
    failing = {plan[1].start - 1}

    class Throttled:
        """S3 that refuses the first ranged GET of chunk 1, as a throttled Lambda sees it."""

        def __getattr__(self, name):
            return getattr(real, name)

        def get_object(self, **kwargs):
            start = int(kwargs.get("Range", "bytes=-1-").split("=")[1].split("-")[0] or -1)
            if start in failing:
                failing.discard(start)
                raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")
            return real.get_object(**kwargs)

    handler = make_transform(Transformer(settings, registry, Throttled()))
    bodies = [
        Pointer("shipments", s.bronze_bucket, key, version, None, len(body), DAY, chunk=c).to_json()
        for c in plan
    ]
    assert handler(sqs_event(*bodies), Context()) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }
    manifests = partition_manifests(real, s.silver_bucket, "shipments", DAY)
    assert complete_objects(manifests) == set()  # two of three chunks: not done yet
    # SQS redelivers (or `elt redrive` moves back) only the failed chunk's message.
    assert handler(sqs_event(bodies[1]), Context()) == {"batchItemFailures": []}
    # ... and a duplicate of a chunk that had succeeded changes nothing.
    assert handler(sqs_event(bodies[0]), Context()) == {"batchItemFailures": []}
    manifests = partition_manifests(real, s.silver_bucket, "shipments", DAY)
    assert complete_objects(manifests) == {key}
    assert partition_totals(manifests)["rows_out"] == 30
    assert summarise(real, s.silver_bucket, "shipments").silver_rows == 30
