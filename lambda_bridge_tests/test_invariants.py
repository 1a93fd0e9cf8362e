"""Property-based invariants of the whole hot path on in-process moto (mock_aws).

1. Delivery mixes: whatever mix of new versions, duplicate/stale/out-of-order S3 events, SQS
   duplicates, failed attempts, DLQ round trips, replays, expired idempotency records and two
   transforms of one key overlapping, once everything is drained each key's outputs are exactly
   its newest version's lines (each (version, line) once), a second drain changes nothing, and
   the result equals a straight-line run's.
2. Partial batch responses name exactly the messages that failed.
3. Every silver file has exactly the contract's silver schema, whatever type drift its input had.
4. S3's key encoding in notifications round-trips, and output keys stay bounded.
5. Timestamps come out of silver as the same instant, in UTC.

The parser's own conservation properties live in test_parse_properties.py; these are about
what the Lambdas, the queue and replay make of it.
"""

import datetime as dt
import gzip
import io
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st
from moto import mock_aws

from elt_assets.cli.local.stack import ResourceNames, Stack, provision
from elt_assets.lib.redrive import redrive
from elt_assets.lib.replay import replay_partition
from lambda_bridge.contracts import Contract, ContractRegistry
from lambda_bridge.idempotency import persistence_layer
from lambda_bridge.ingest import Ingester
from lambda_bridge.keys import (
    arrival_date,
    decode_event_key,
    index_key,
    manifest_key,
    part_id,
    quarantine_key,
    silver_key,
)
from lambda_bridge.messages import Pointer
from lambda_bridge.process import process_object
from lambda_bridge.silver import to_parquet
from lambda_bridge.transform import Transformer

from .test_handlers import Context

REGISTRY = ContractRegistry.load()
SHIPMENTS = REGISTRY["shipments"]
DAY = "2026-01-05"
_PREFIXES = itertools.count()

FAST = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


def fresh_names() -> ResourceNames:
    """A unique prefix per example: fresh buckets, queues and table in the shared mock."""
    return ResourceNames(f"inv{next(_PREFIXES)}")


@dataclass
class Clients:
    s3: Any
    sqs: Any
    ddb: Any


@pytest.fixture
def aws(aws_env):
    """One in-process moto for the whole test function (every hypothesis example shares it)."""
    with mock_aws():
        yield Clients(boto3.client("s3"), boto3.client("sqs"), boto3.client("dynamodb"))


@pytest.fixture
def aws_days_apart(aws, monkeypatch):
    """moto's S3 clock, five hours later at every write (monotonic, as S3's is)."""
    import moto.s3.models

    ticks = itertools.count()
    start = dt.datetime(2026, 12, 2, 22, 0, 0)
    monkeypatch.setattr(
        moto.s3.models, "utcnow", lambda: start + dt.timedelta(hours=5 * next(ticks))
    )
    return aws


def s3_record(bucket: str, put: "Put", safe: str = "/") -> dict[str, Any]:
    """One S3 ObjectCreated notification record, the key encoded with `quote_plus(safe=...)`."""
    return {
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-01-05T10:00:00.000Z",
        "s3": {
            "bucket": {"name": bucket},
            "object": {
                "key": quote_plus(put.key, safe=safe),
                "size": put.size,
                "eTag": put.etag,
                "versionId": put.version,
            },
        },
    }


def transient(kind: str, operation: str) -> Exception:
    if kind == "connection":
        return EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")
    code = {"slowdown": "SlowDown", "internal": "InternalError", "throttle": "ThrottlingException"}
    return ClientError({"Error": {"Code": code[kind], "Message": kind}}, operation)


class _Hooked:
    """The real client, with `before(number, operation)` run before each of its S3 calls."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    def before(self, number: int, operation: str) -> None:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if name.startswith("_") or name in ("meta", "get_paginator") or not callable(attr):
            return attr

        def call(**kwargs: Any) -> Any:
            number, self.calls = self.calls, self.calls + 1
            self.before(number, name)
            return attr(**kwargs)

        return call


class Interleaved(_Hooked):
    """The real client, except that `action` runs just before S3 call number `at`: another
    Lambda's work landing in the middle of this one's."""

    def __init__(self, real: Any, at: int, action: Any) -> None:
        super().__init__(real)
        self.at, self.action = at, action

    def before(self, number: int, operation: str) -> None:
        if number == self.at:
            self.action()


class FlakyS3(_Hooked):
    """The real client, except that S3 call number `fail_at` (0-based) raises, once."""

    def __init__(self, real: Any, fail_at: int, kind: str) -> None:
        super().__init__(real)
        self.fail_at, self.kind = fail_at, kind
        self.fired = ""  # the operation that failed

    def before(self, number: int, operation: str) -> None:
        if number == self.fail_at and not self.fired:
            self.fired = operation
            raise transient(self.kind, operation)


# -- content: lines whose fate the test knows ---------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=8)
REQUIRED = ("record_type", "event_time", "shipment_id", "origin", "destination")


@st.composite
def event_times(draw) -> str:
    moment = draw(
        st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 12, 31), allow_imaginary=False)
    )
    offset = draw(st.sampled_from(["", "Z", "+00:00", "+05:30", "-08:00", "+0100"]))
    return moment.isoformat(sep=draw(st.sampled_from("T "))) + offset


def utc_instant(text: str) -> dt.datetime:
    """What an ISO 8601 timestamp means, the contract's way: naive is UTC."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


@st.composite
def good_records(draw) -> dict[str, Any]:
    record: dict[str, Any] = {
        "record_type": "shipments",
        "event_time": draw(event_times()),
        "shipment_id": "shp_" + draw(st.text("abcXYZ019", min_size=1, max_size=6)),
        "origin": draw(TEXT),
        "destination": draw(TEXT),
    }
    if draw(st.booleans()):
        record["carrier"] = draw(st.none() | TEXT)
    if draw(st.booleans()):  # the same field as int, float, null or absent
        record["weight_kg"] = draw(
            st.none()
            | st.integers(-(2**53), 2**53)
            | st.floats(allow_nan=False, allow_infinity=False)
        )
    if draw(st.booleans()):
        record["extra"] = draw(st.dictionaries(TEXT, st.integers(), max_size=2))
    return record


def dumps(record: Any, ascii_only: bool = True) -> bytes:
    return json.dumps(record, ensure_ascii=ascii_only).encode()


@dataclass(frozen=True)
class Line:
    """One physical line and what must become of it: silver (`code` None), quarantine with
    `code`, or nothing at all (blank)."""

    raw: bytes
    code: str | None
    record: dict[str, Any] | None = None
    blank: bool = False


@st.composite
def bad_lines(draw) -> Line:
    record = draw(good_records())
    raw = dumps(record)
    kind = draw(
        st.sampled_from(
            ["truncated", "missing", "null", "type", "not_object", "encoding", "nan", "dup_key"]
        )
    )
    if kind == "truncated":
        return Line(raw[: draw(st.integers(1, len(raw) - 1))], "json_decode")
    if kind == "missing":
        del record[draw(st.sampled_from(REQUIRED))]
        return Line(dumps(record), "missing_required")
    if kind == "null":
        record[draw(st.sampled_from(REQUIRED))] = None
        return Line(dumps(record), "missing_required")
    if kind == "type":
        field_, value = draw(
            st.sampled_from(
                [
                    ("origin", 5),
                    ("weight_kg", "12.5"),
                    ("weight_kg", True),
                    ("event_time", "noon"),
                    ("event_time", "2026-02-30T00:00:00Z"),
                    ("carrier", ["UPS"]),
                ]
            )
        )
        record[field_] = value
        return Line(dumps(record), "type_mismatch")
    if kind == "not_object":
        return Line(
            draw(st.sampled_from([b"[1, 2]", b"42", b'"x"', b"null", b"true"])), "not_an_object"
        )
    if kind == "encoding":
        record["origin"] = "\x00MARK"
        return Line(dumps(record).replace(b"\\u0000MARK", b"\xff\xfe"), "encoding")
    if kind == "nan":
        return Line(raw[:-1] + b', "weight_kg": NaN}', "json_decode")
    return Line(raw[:-1] + b', "origin": "again"}', "duplicate_key")


lines = st.one_of(
    good_records().flatmap(lambda r: st.booleans().map(lambda a: Line(dumps(r, a), None, r))),
    bad_lines(),
    st.sampled_from([b"", b"  ", b"\t "]).map(lambda b: Line(b, None, blank=True)),
)


@dataclass(frozen=True)
class Content:
    lines: tuple[Line, ...]
    crlf: bool
    final_newline: bool
    gz: bool

    def body(self) -> bytes:
        sep = b"\r\n" if self.crlf else b"\n"
        data = sep.join(line.raw for line in self.lines)
        if self.lines and self.final_newline:
            data += sep
        return gzip.compress(data, mtime=0) if self.gz else data

    def valid(self) -> dict[int, dict[str, Any]]:
        return {
            n: ln.record for n, ln in enumerate(self.lines, 1) if ln.code is None and not ln.blank
        }

    def invalid(self) -> dict[int, str]:
        return {n: ln.code for n, ln in enumerate(self.lines, 1) if ln.code is not None}


contents = st.builds(
    Content,
    st.lists(lines, max_size=8).map(tuple),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


def expected_row(record: dict[str, Any]) -> dict[str, Any]:
    weight = record.get("weight_kg")
    return {
        "record_type": record["record_type"],
        "event_time": utc_instant(record["event_time"]),
        "shipment_id": record["shipment_id"],
        "origin": record["origin"],
        "destination": record["destination"],
        "carrier": record.get("carrier"),
        "weight_kg": None if weight is None else float(weight),
    }


# -- the pipeline, driven by hand ---------------------------------------------------------------


@dataclass
class Put:
    key: str
    version: str
    etag: str
    size: int
    content: Content


class Pipeline:
    """One fresh stack, with the two Lambdas and Lambda/SQS's delivery semantics played by hand."""

    def __init__(self, aws: Clients) -> None:
        self.aws = aws
        self.stack: Stack = provision(endpoint=None, names=fresh_names())
        self.settings = self.stack.settings
        persistence = persistence_layer(self.settings.idempotency_table, aws.ddb)
        self.ingester = Ingester(self.settings, REGISTRY, aws.sqs, persistence)
        self.transformer = Transformer(self.settings, REGISTRY, aws.s3)
        self.bronze, self.silver = self.settings.bronze_bucket, self.settings.silver_bucket

    # S3 and the ingest Lambda

    def put(self, key: str, content: Content) -> Put:
        body = content.body()
        response = self.aws.s3.put_object(Bucket=self.bronze, Key=key, Body=body)
        return Put(key, response["VersionId"], response["ETag"].strip('"'), len(body), content)

    def deliver(self, put: Put) -> dict[str, int]:
        """The S3 ObjectCreated event of one version, encoded as S3 encodes keys."""
        record = s3_record(self.bronze, put)
        return self.ingester.handle({"Records": [record]}, Context())

    # SQS and the transform Lambda

    def receive(self, n: int = 10) -> list[dict[str, Any]]:
        return self.aws.sqs.receive_message(
            QueueUrl=self.settings.queue_url,
            MaxNumberOfMessages=n,
            VisibilityTimeout=30,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def transform(self, messages: list[dict[str, Any]], s3: Any = None) -> set[str]:
        """One Lambda invocation: the ids of the messages that failed (all, if it raised)."""
        transformer = self.transformer if s3 is None else Transformer(self.settings, REGISTRY, s3)
        try:
            response = transformer.handle(sqs_event(messages), None)
        except BatchProcessingError:  # Powertools raises when every record failed
            return {m["MessageId"] for m in messages}
        return {f["itemIdentifier"] for f in response["batchItemFailures"]}

    def settle(self, messages: list[dict[str, Any]], failed: set[str], lose_deletes: bool = False):
        """What Lambda does after an invocation: delete the successes, and a failure comes back
        once its visibility timeout ends (here at once). `lose_deletes`: the deletes are lost, so
        successes come back too (SQS at-least-once)."""
        for m in messages:
            if m["MessageId"] in failed or lose_deletes:
                self.release(m)
            else:
                self.aws.sqs.delete_message(
                    QueueUrl=self.settings.queue_url, ReceiptHandle=m["ReceiptHandle"]
                )

    def release(self, message: dict[str, Any]) -> None:
        self.aws.sqs.change_message_visibility(
            QueueUrl=self.settings.queue_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=0,
        )

    def depth(self, url: str) -> int:
        attrs = self.aws.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def redrive(self) -> int:
        result = redrive(
            self.aws.sqs,
            self.settings.dlq_url,
            self.settings.queue_url,
            use_move_task=False,
            wait_time_seconds=0,
        )
        assert result.failed == 0, result.errors
        return result.moved

    def drain(self, latest: list[Put], seen: set[str] | None = None) -> None:
        """Deliver the latest event of every key, then run the queue (and the DLQ, redriven)
        until both are empty. Nothing fails here, so no message may be reported failed."""
        seen = set() if seen is None else seen
        for put in latest:
            self.deliver(put)
        for _ in range(20):
            while messages := self.receive():
                failed = self.transform(messages)
                assert not failed, "a message failed with no fault injected"
                self.settle(messages, failed)
            moved = self.redrive()
            if moved:
                seen.add("drain redrove the DLQ")
            if not moved:
                break
        assert self.depth(self.settings.queue_url) == 0
        assert self.depth(self.settings.dlq_url) == 0

    def replay(self, key: str | None = None) -> None:
        """Dagster's silver materialization: process_object on current versions."""
        if key is not None:
            process_object(self.aws.s3, SHIPMENTS, self.silver, self.bronze, key)
            return
        for day in {DAY, *(self.arrival_day(k) for k in self.current_keys())}:
            replay_partition(self.aws.s3, SHIPMENTS, self.bronze, self.silver, day)

    def current_keys(self) -> list[str]:
        listing = self.aws.s3.list_objects_v2(Bucket=self.bronze).get("Contents", [])
        return [o["Key"] for o in listing]

    def arrival_day(self, key: str, version: str | None = None) -> str:
        """The partition of a key's (current) version: its `dt=`, else its LastModified date,
        read from S3 rather than assumed to be today (a run may cross midnight UTC)."""
        extra = {"VersionId": version} if version else {}
        head = self.aws.s3.head_object(Bucket=self.bronze, Key=key, **extra)
        return arrival_date(key, head["LastModified"])

    def expire_record(self, pick: int) -> None:
        """The idempotency record's TTL has passed (DynamoDB deletes lazily; Powertools checks)."""
        table = self.settings.idempotency_table
        items = sorted(
            self.aws.ddb.scan(TableName=table)["Items"], key=lambda item: item["id"]["S"]
        )
        if not items:
            return
        item = items[pick % len(items)]
        self.aws.ddb.update_item(
            TableName=table,
            Key={"id": item["id"]},
            UpdateExpression="SET expiration = :past",
            ExpressionAttributeValues={":past": {"N": "1"}},
        )

    # reading the silver bucket back

    def objects(self) -> list[str]:
        keys: list[str] = []
        for page in self.aws.s3.get_paginator("list_objects_v2").paginate(Bucket=self.silver):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def read(self, key: str) -> bytes:
        return self.aws.s3.get_object(Bucket=self.silver, Key=key)["Body"].read()


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m.get("ReceiptHandle", "r"),
                "body": m["Body"],
                "attributes": m.get("Attributes", {"ApproximateReceiveCount": "1"}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


# -- 1. conservation, idempotence, order independence -------------------------------------------

KEYS = (
    f"bronze/shipments/dt={DAY}/a.jsonl",
    f"bronze/shipments/dt={DAY}/b 1+x=y:z.ndjson",
    "bronze/shipments/undated.jsonl",  # partition from LastModified; the _index path
)
key_index = st.integers(0, len(KEYS) - 1)
FAULTS = st.sampled_from(["slowdown", "internal", "throttle", "connection"])

# S3 usually notifies at once; sometimes the event comes late (a later `deliver`), or never.
put_op = st.tuples(st.just("put"), key_index, contents, st.booleans(), st.booleans())
deliver_op = st.tuples(st.just("deliver"), key_index, st.integers(0, 20))
transform_op = st.tuples(
    st.just("transform"), st.permutations(range(10)), st.integers(1, 10), st.booleans()
)
fail_op = st.tuples(st.just("fail"), st.integers(1, 4), st.integers(0, 14), FAULTS)
OPERATIONS = {
    "put": put_op,
    "deliver": deliver_op,
    "transform": transform_op,
    "fail": fail_op,
    "duplicate": st.tuples(st.just("duplicate"), st.integers(0, 9)),
    "to_dlq": st.tuples(st.just("to_dlq"), st.integers(0, 9)),
    "redrive": st.tuples(st.just("redrive")),
    "replay_key": st.tuples(st.just("replay_key"), key_index),
    "replay": st.tuples(st.just("replay")),
    "expire": st.tuples(st.just("expire"), st.integers(0, 20)),
    "overlap": st.tuples(st.just("overlap"), st.integers(0, 9), st.integers(0, 10), contents),
}
# The common events weighted up (one_of would merge repeated branches, so weight by name).
WEIGHTED = (
    ["put"] * 2
    + ["deliver"] * 4
    + ["transform"] * 3
    + ["fail"] * 3
    + ["overlap"]
    + list(OPERATIONS)
)
# A few versions first, then any mix.
operations = st.tuples(
    st.lists(put_op, min_size=1, max_size=4),
    st.lists(st.sampled_from(WEIGHTED).flatmap(OPERATIONS.__getitem__), min_size=10, max_size=30),
).map(lambda parts: parts[0] + parts[1])


@dataclass
class Model:
    puts: dict[str, list[Put]] = field(default_factory=lambda: {k: [] for k in KEYS})
    enqueued: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)  # what happened, for hypothesis' statistics

    def latest(self) -> list[Put]:
        return [versions[-1] for versions in self.puts.values() if versions]


def run_operations(p: Pipeline, ops: list[tuple]) -> Model:
    model = Model()
    for op in ops:
        name = op[0]
        if name == "put":
            _, k, content, same_as_previous, notify_now = op
            previous = model.puts[KEYS[k]]
            if same_as_previous and previous:
                content = previous[-1].content  # identical bytes, a new version
                model.seen.add("identical bytes as a new version")
            model.puts[KEYS[k]].append(p.put(KEYS[k], content))
            if len(model.puts[KEYS[k]]) > 1:
                model.seen.add("several versions of a key")
            if notify_now:
                p.deliver(model.puts[KEYS[k]][-1])
                model.enqueued.add(model.puts[KEYS[k]][-1].version)
        elif name == "deliver":  # any version ever put: duplicates, stale, out of order
            _, k, pick = op
            versions = model.puts[KEYS[k]]
            if versions:
                put = versions[pick % len(versions)]
                summary = p.deliver(put)
                if put is not versions[-1]:
                    model.seen.add("old version delivered")
                if summary["duplicates"]:
                    model.seen.add("duplicate S3 event")
                if summary["enqueued"] and put.version in model.enqueued:
                    model.seen.add("same version enqueued again after expiry")
                if summary["enqueued"]:
                    model.enqueued.add(put.version)
        elif name == "transform":
            _, order, n, lose_deletes = op
            messages = p.receive()
            chosen = [messages[i] for i in order if i < len(messages)][:n]
            for m in messages:
                if m not in chosen:
                    p.release(m)
            if chosen:
                failed = p.transform(chosen)
                assert not failed, "a message failed with no fault injected"
                p.settle(chosen, failed, lose_deletes)
        elif name == "fail":  # a transient S3 error somewhere inside one invocation
            _, n, fail_at, kind = op
            messages = p.receive(n)
            if messages:
                flaky = FlakyS3(p.aws.s3, fail_at, kind)
                failed = p.transform(messages, flaky)
                assert len(failed) == (1 if flaky.fired else 0), (failed, flaky.fired)
                if flaky.fired:
                    model.seen.add(f"fault in {flaky.fired}")
                p.settle(messages, failed)
        elif name == "duplicate":  # the same body twice on the queue
            messages = p.receive()
            if messages:
                m = messages[op[1] % len(messages)]
                p.aws.sqs.send_message(QueueUrl=p.settings.queue_url, MessageBody=m["Body"])
            for m in messages:
                p.release(m)
        elif name == "to_dlq":  # as SQS does after maxReceiveCount
            messages = p.receive()
            for i, m in enumerate(messages):
                if i == op[1] % len(messages):
                    p.aws.sqs.send_message(QueueUrl=p.settings.dlq_url, MessageBody=m["Body"])
                    p.aws.sqs.delete_message(
                        QueueUrl=p.settings.queue_url, ReceiptHandle=m["ReceiptHandle"]
                    )
                else:
                    p.release(m)
        elif name == "redrive":
            if p.redrive():
                model.seen.add("redrive moved messages")
        elif name == "replay_key":
            p.replay(KEYS[op[1]])
        elif name == "replay":
            p.replay()
        elif name == "expire":
            p.expire_record(op[1])
        elif name == "overlap":
            overlap(p, model, *op[1:])
    return model


def overlap(p: Pipeline, model: Model, pick: int, at: int, content: Content) -> None:
    """Two transforms of one key at once (Lambda runs batches concurrently): while invocation A
    works on a message of the key's current version, a new version lands, is notified, and
    invocation B transforms it to the end; then A carries on."""
    messages = p.receive()
    current = {put.version for put in model.latest()}
    candidates = [m for m in messages if Pointer.from_json(m["Body"]).version_id in current]
    for m in messages:
        if not candidates or m is not candidates[pick % len(candidates)]:
            p.release(m)
    if not candidates:
        return
    message = candidates[pick % len(candidates)]
    key = Pointer.from_json(message["Body"]).key

    def invocation_b() -> None:
        put = p.put(key, content)
        model.puts[key].append(put)
        p.deliver(put)
        model.enqueued.add(put.version)
        for m in p.receive():
            if Pointer.from_json(m["Body"]).version_id == put.version:
                p.settle([m], p.transform([m]))
            else:
                p.release(m)
        model.seen.add("overlapping transforms of one key")

    failed = p.transform([message], Interleaved(p.aws.s3, at, invocation_b))
    assert not failed
    p.settle([message], failed)


def check_outputs(p: Pipeline, model: Model) -> None:
    """Each key's outputs are exactly its newest version's lines, each once, and its manifest
    names that version with counts equal to what is read back."""
    newest = {put.key: put for put in model.latest()}
    silver_rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    quarantined: dict[tuple[str, str, int], str] = {}
    manifests: dict[str, list[dict[str, Any]]] = {}
    for key in p.objects():
        if key.startswith("silver/"):
            table = pq.read_table(io.BytesIO(p.read(key)))
            assert table.schema.equals(SHIPMENTS.silver_schema), key
            for row in table.to_pylist():
                ident = (row["_source_key"], row["_source_version"], row["_line"])
                assert ident not in silver_rows and ident not in quarantined, ident
                assert row["_ingested_at"].utcoffset() == dt.timedelta(0)
                silver_rows[ident] = row
        elif key.startswith("quarantine/"):
            for text in p.read(key).decode().splitlines():
                record = json.loads(text)
                ident = (record["_source_key"], record["_source_version"], record["_line"])
                assert ident not in silver_rows and ident not in quarantined, ident
                quarantined[ident] = record["_error_code"]
        elif key.startswith("_manifests/"):
            manifest = json.loads(p.read(key))
            manifest["_path"] = key
            manifests.setdefault(manifest["source"]["key"], []).append(manifest)

    expected_silver = {
        (k, put.version, n): record for k, put in newest.items()
        for n, record in put.content.valid().items()
    }  # fmt: skip
    expected_quarantine = {
        (k, put.version, n): code for k, put in newest.items()
        for n, code in put.content.invalid().items()
    }  # fmt: skip
    assert set(silver_rows) == set(expected_silver)
    assert quarantined == expected_quarantine
    for ident, record in expected_silver.items():
        row = silver_rows[ident]
        assert {c: row[c] for c in SHIPMENTS.column_names} == expected_row(record), ident

    assert set(manifests) == set(newest)
    for k, put in newest.items():
        (manifest,) = manifests[k]  # one manifest per key, whatever the partitions
        pid = part_id(p.bronze, k)
        day = p.arrival_day(k, put.version)
        rows_out = sum(1 for ident in silver_rows if ident[0] == k)
        rows_bad = sum(1 for ident in quarantined if ident[0] == k)
        assert manifest["_path"] == manifest_key("shipments", day, pid)
        assert manifest["source"]["version_id"] == put.version
        assert manifest["source"]["etag"] == put.etag
        assert (manifest["lines_in"], manifest["rows_out"], manifest["rows_quarantined"]) == (
            rows_out + rows_bad,
            rows_out,
            rows_bad,
        )
        assert manifest["silver_key"] == (silver_key("shipments", day, pid) if rows_out else None)
        assert manifest["quarantine_key"] == (
            quarantine_key("shipments", day, pid) if rows_bad else None
        )
        index = json.loads(p.read(index_key("shipments", pid)))
        assert (index["version_id"], index["dt"]) == (put.version, day)


def snapshot(p: Pipeline, model: Model) -> dict[str, Any]:
    """The silver bucket's contents, minus what legitimately differs between runs (processing
    times, who wrote a manifest last (the transform or a replay: provenance, not data), bucket
    names, version ids: a version is only `newest` or not, and the arrival day of
    an undated key, which is the day its version landed: the reference run may land after
    midnight UTC when the run it is compared with landed before)."""
    newest = {put.key: put.version for put in model.latest()}
    names = {part_id(p.bronze, k): f"<{k}>" for k in KEYS}

    def version(key: str, v: str | None) -> str:
        return "newest" if newest.get(key) == v else f"other:{v}"

    def day(value: str) -> str:
        return value if value == DAY else "<arrival day>"

    def path(key: str) -> str:
        for pid, name in names.items():
            key = key.replace(pid, name)
        return re.sub(r"dt=(\d{4}-\d{2}-\d{2})", lambda m: f"dt={day(m.group(1))}", key)

    out: dict[str, Any] = {}
    for key in p.objects():
        body = p.read(key)
        if key.startswith("silver/"):
            rows = pq.read_table(io.BytesIO(body)).to_pylist()
            for row in rows:
                del row["_ingested_at"]
                row["_source_version"] = version(row["_source_key"], row["_source_version"])
            value: Any = rows
        elif key.startswith("quarantine/"):
            value = [json.loads(text) for text in body.decode().splitlines()]
            for record in value:
                record["_source_version"] = version(
                    record["_source_key"], record["_source_version"]
                )
        elif key.startswith("_manifests/"):
            value = json.loads(body)
            assert value.pop("writer") in ("transform", "replay")
            for volatile in ("processed_at", "duration_ms"):
                del value[volatile]
            value["dt"] = day(value["dt"])
            source = value["source"]
            source["version_id"] = version(source["key"], source["version_id"])
            del source["bucket"], source["last_modified"]
            value["silver_key"] = value["silver_key"] and path(value["silver_key"])
            value["quarantine_key"] = value["quarantine_key"] and path(value["quarantine_key"])
        elif key.startswith("_index/"):
            value = json.loads(body)
            del value["last_modified"]
            value["dt"] = day(value["dt"])
            value["manifest_key"] = path(value["manifest_key"])
            value["version_id"] = "newest" if value["version_id"] in newest.values() else "old"
        else:
            value = body
        out[path(key)] = value
    return out


GOOD_RECORD = {
    "record_type": "shipments",
    "event_time": "2026-01-05T03:00:00+00:00",
    "shipment_id": "shp_1",
    "origin": "SZX",
    "destination": "SEA",
}
ONE_ROW = Content((Line(dumps(GOOD_RECORD), None, GOOD_RECORD),), False, False, False)
TWO_ROWS = Content(ONE_ROW.lines * 2, False, True, False)


@settings(max_examples=40, **FAST)
@given(ops=operations)
# The overlap that once left the older version in silver for good: A (version 1) has passed its
# newest-wins check; B puts version 2 and transforms it; A's writes (S3 call 3 on: get, head,
# index, then puts) land on top. process_object now re-checks after writing.
@example(ops=[("put", 0, ONE_ROW, False, True), ("overlap", 0, 3, TWO_ROWS)])
# A replay writes last: its manifest says `replay`, a later run's says `transform`; same data.
@example(
    ops=[("put", 0, ONE_ROW, False, True), ("transform", tuple(range(10)), 1, False), ("replay",)]
)
def test_any_delivery_mix_drains_to_the_newest_versions_lines_each_once(aws, ops):
    check_delivery_mix(aws, ops)


@settings(max_examples=25, **FAST)
@given(ops=operations)
def test_the_same_holds_when_versions_land_on_different_days(aws_days_apart, ops):
    """Undated keys whose versions arrive on different days (every S3 write five hours after
    the last): newest wins across partitions, and the old day's outputs go."""
    check_delivery_mix(aws_days_apart, ops)


def check_delivery_mix(aws: Clients, ops: list) -> None:
    p = Pipeline(aws)
    model = run_operations(p, ops)
    note(f"versions: { {k: [v.version for v in vs] for k, vs in model.puts.items()} }")

    p.drain(model.latest(), model.seen)
    for label in sorted(model.seen):
        event(label)
    check_outputs(p, model)
    once = snapshot(p, model)

    # N runs = 1 run: draining again, redelivering and replaying change nothing.
    p.drain(model.latest())
    p.replay()
    for key in KEYS:
        p.replay(key)
    check_outputs(p, model)
    assert snapshot(p, model) == once

    # Order independence: the same as a straight-line run (put latest, deliver, transform once).
    reference = Pipeline(aws)
    ref_model = Model()
    for put in model.latest():
        ref_model.puts[put.key].append(reference.put(put.key, put.content))
    for put in ref_model.latest():
        reference.deliver(put)
    messages = reference.receive()
    assert len(messages) == len(ref_model.latest())
    if messages:
        reference.settle(messages, reference.transform(messages))
    check_outputs(reference, ref_model)
    assert snapshot(reference, ref_model) == once
    event(f"keys with versions: {len(model.latest())}")


# -- 2. partial batch responses ------------------------------------------------------------------

FAILING = {"get_error", "head_error", "put_error", "connection", "malformed", "unknown_dataset"}
message_kinds = st.sampled_from(["ok", "bad_content", "stale", "missing_object", *sorted(FAILING)])
MALFORMED = [
    "not json",
    "[]",
    '{"v": 2, "dataset": "shipments", "bucket": "b", "key": "k"}',
    '{"v": 1, "dataset": "shipments", "bucket": "b"}',
    '{"v": 1, "dataset": "", "bucket": "b", "key": "k"}',
    "null",
]


class PoisonS3:
    """Raises a transient error for chosen (operation, source key) pairs, every time."""

    def __init__(self, real: Any, silver: str, poison: dict[tuple[str, str], str]) -> None:
        self.real, self.silver, self.poison = real, silver, poison

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if name.startswith("_") or name in ("meta", "get_paginator") or not callable(attr):
            return attr

        def call(**kwargs: Any) -> Any:
            for (operation, source), kind in self.poison.items():
                hit = kwargs.get("Key") == source or (
                    kwargs.get("Bucket") == self.silver and source in kwargs.get("Key", "")
                )
                if operation == name and hit:
                    raise transient(kind, name)
            return attr(**kwargs)

        return call


@settings(max_examples=30, **FAST)
@given(
    kinds=st.lists(message_kinds, min_size=1, max_size=8),
    ids=st.lists(st.uuids().map(str), min_size=8, max_size=8, unique=True),
)
def test_batch_item_failures_are_exactly_the_failed_messages(aws, kinds, ids):
    p = Pipeline(aws)
    good = dumps({
        "record_type": "shipments", "event_time": "2026-01-05T03:00:00Z", "shipment_id": "shp_1",
        "origin": "SZX", "destination": "SEA",
    })  # fmt: skip
    poison: dict[tuple[str, str], str] = {}
    messages, must_fail, must_land = [], set(), {}
    for i, kind in enumerate(kinds):
        key = f"bronze/shipments/dt={DAY}/m{i}.jsonl"
        body = good + b"\n{broken" if kind != "bad_content" else b"\xff\n[[\nnull"
        version = p.aws.s3.put_object(Bucket=p.bronze, Key=key, Body=body)["VersionId"]
        if kind == "stale":
            p.aws.s3.put_object(Bucket=p.bronze, Key=key, Body=body)
        if kind == "missing_object":
            p.aws.s3.delete_object(Bucket=p.bronze, Key=key, VersionId=version)
        pointer = Pointer("shipments", p.bronze, key, version, None, None, DAY)
        text = pointer.to_json()
        if kind == "malformed":
            text = MALFORMED[i % len(MALFORMED)]
        elif kind == "unknown_dataset":
            text = Pointer("no_such_dataset", p.bronze, key, version, None, None, DAY).to_json()
        elif kind == "get_error":
            poison[("get_object", key)] = "slowdown"
        elif kind == "head_error":
            poison[("head_object", key)] = "internal"
        elif kind == "put_error":  # fails after the read, at the first output write
            poison[("put_object", part_id(p.bronze, key))] = "throttle"
        elif kind == "connection":
            poison[("get_object", key)] = "connection"
        if kind in FAILING:
            must_fail.add(ids[i])
        elif kind in ("ok", "bad_content"):
            must_land[key] = version
        messages.append({"MessageId": ids[i], "Body": text})

    transformer = Transformer(p.settings, REGISTRY, PoisonS3(p.aws.s3, p.silver, poison))
    if len(must_fail) == len(messages):
        # Powertools' BatchProcessor raises when every record failed: Lambda then retries the
        # whole batch, which is what reporting every id would have done.
        with pytest.raises(BatchProcessingError):
            transformer.handle(sqs_event(messages), None)
    else:
        response = transformer.handle(sqs_event(messages), None)
        reported = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        assert sorted(reported) == sorted(must_fail)  # exactly the failed ones, each once
    # A message not reported as failed was done: its manifest names its version.
    manifests = {
        json.loads(p.read(k))["source"]["key"]: json.loads(p.read(k))["source"]["version_id"]
        for k in p.objects()
        if k.startswith("_manifests/")
    }
    assert manifests == must_land


# -- 3. schema stability under type drift --------------------------------------------------------

MISSING = object()


def drift_values(arrow_type: pa.DataType) -> tuple[st.SearchStrategy, st.SearchStrategy]:
    """How producers give one field: accepted spellings (native and the neighbouring types the
    contract accepts), and rejected ones (these rows are quarantined, never a drifted column)."""
    if pa.types.is_floating(arrow_type):
        ok = st.floats(-1e6, 1e6) | st.integers(-(10**6), 10**6) | st.just(3.0)
        return ok, st.sampled_from(["12.5", "7", True])
    if pa.types.is_integer(arrow_type):
        return st.integers(-(10**6), 10**6), st.sampled_from([3.0, 2.5, "7"])
    if pa.types.is_decimal(arrow_type):
        ok = st.sampled_from(["12.34", "0.10", "7", "-3.5", "1e2", 12.5, 0.1]) | st.integers(
            0, 10**6
        )
        return ok, st.sampled_from(["abc", "12.345", True])
    if pa.types.is_timestamp(arrow_type):
        return event_times(), st.sampled_from(["noon", 1767582000, "2026-01-05"])
    if pa.types.is_date(arrow_type):
        return st.just("2026-01-05"), st.sampled_from(["2026-01-05T00:00:00", "2026-02-30", 5])
    if pa.types.is_boolean(arrow_type):
        return st.booleans(), st.sampled_from(["maybe", 2])
    if pa.types.is_list(arrow_type):
        return st.lists(st.none() | TEXT, max_size=3), st.sampled_from([[1, 2], "a"])
    return TEXT, st.sampled_from([7, 1.5, True])


@st.composite
def column_mode(draw, column: Any) -> st.SearchStrategy:
    """What one file does with one column, for every row: one accepted value or type (a column
    that is all int, all null or absent in one file is what schema inference gets wrong), a mix,
    or now and then rejected values."""
    ok, bad = drift_values(column.arrow_type)
    modes = ["same value", "mixed"] + ([] if column.required else ["null", "absent", "mixed"])
    mode = draw(st.sampled_from([*modes, "rejected"] if draw(st.integers(0, 9)) == 0 else modes))
    if mode == "same value":
        return st.just(draw(ok))
    if mode == "null":
        return st.none()
    if mode == "absent":
        return st.just(MISSING)
    if mode == "rejected":
        return bad
    return ok if column.required else ok | st.sampled_from([None, MISSING])


@st.composite
def drifting_file(draw, contract: Contract) -> bytes:
    per_column = {column.name: draw(column_mode(column)) for column in contract.columns}
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        row = {}
        for column in contract.columns:
            value = draw(per_column[column.name])
            if value is not MISSING:
                row[column.name] = value
        rows.append(row)
    if "csv" in contract.formats:  # every cell a string; absent optional columns, any order
        present = [c.name for c in contract.columns if c.required or draw(st.booleans())]
        present = draw(st.permutations(present))
        out = [",".join(present)]
        for row in rows:
            cells = []
            for name in present:
                value = row.get(name)
                text = (
                    ""
                    if value is None
                    else json.dumps(value)
                    if isinstance(value, list)
                    else str(value)
                )
                cells.append("".join(" " if c in ',"\r\n' else c for c in text))
            out.append(",".join(cells))
        return "\n".join(out).encode()
    return b"\n".join(dumps(row) for row in rows)


def parquet_schema_of(schema: pa.Schema) -> Any:
    return pq.ParquetFile(io.BytesIO(to_parquet(schema.empty_table()))).schema


@settings(max_examples=40, **FAST)
@given(data=st.data(), dataset=st.sampled_from(REGISTRY.names))
def test_every_silver_file_has_exactly_the_contracts_schema(aws, data, dataset):
    p = Pipeline(aws)
    contract = REGISTRY[dataset]
    extension = "csv" if "csv" in contract.formats else "jsonl"
    expected_physical = parquet_schema_of(contract.silver_schema)
    written = 0
    for i in range(data.draw(st.integers(1, 4), label="files")):
        key = f"{contract.bronze_prefix}dt={DAY}/f{i}.{extension}"
        body = data.draw(drifting_file(contract), label=f"file {i}")
        p.aws.s3.put_object(Bucket=p.bronze, Key=key, Body=body)
        outcome = process_object(p.aws.s3, contract, p.silver, p.bronze, key)
        assert outcome.status == "processed"
        if outcome.manifest["silver_key"]:
            parquet = pq.ParquetFile(io.BytesIO(p.read(outcome.manifest["silver_key"])))
            assert parquet.schema_arrow.equals(contract.silver_schema), parquet.schema_arrow
            assert parquet.schema.equals(expected_physical), parquet.schema  # physical too
            written += 1
    event(f"{dataset}: silver files written {written}")


# -- 4. keys -------------------------------------------------------------------------------------

# What S3 leaves unencoded in notification keys is not documented (only "URL-encoded, a space
# becomes '+'"), so several plausible safe sets are tried; moto's is the empty one.
S3_SAFE_SETS = ["/", "", "/-_.~", "/-_.*", "/-_.!~*'()"]
tricky = st.sampled_from(
    ["+", "%2B", "%", "%25", " ", ":", "=", "/", "%20", "~", "*", "é", "\u2028", "😀"]
)
key_text = st.lists(
    tricky | st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40),
    max_size=60,
).map("".join)


def clip_utf8(text: str, limit: int = 1024) -> str:
    raw = text.encode()[:limit]
    return raw.decode(errors="ignore")


@settings(max_examples=500, deadline=None)
@given(key=key_text.map(clip_utf8), safe=st.sampled_from(S3_SAFE_SETS))
def test_the_notification_key_encoding_round_trips(key, safe):
    assert len(key.encode()) <= 1024
    assert decode_event_key(quote_plus(key, safe=safe)) == key


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(key_text.map(clip_utf8), min_size=1, max_size=5, unique=True),
    chunk=st.none() | st.integers(0, 10**6),
)
def test_output_keys_are_bounded_and_distinct_whatever_the_input_key(keys, chunk):
    bound = len(index_key("tracking_events", "0" * 24)) + len("_manifests/dt=YYYY-MM-DD/.json")
    pids = set()
    for key in keys:
        pid = part_id("bronze-bucket", key, chunk)
        assert len(pid) == 24 and all(c in "0123456789abcdef" for c in pid)
        pids.add(pid)
        for make in (silver_key, quarantine_key, manifest_key):
            assert len(make("tracking_events", DAY, pid)) <= bound
        assert len(index_key("tracking_events", pid)) <= bound
    assert len(pids) == len(keys)  # distinct source keys never share outputs


@settings(max_examples=25, **FAST)
@given(name=key_text, safe=st.sampled_from(S3_SAFE_SETS))
def test_any_key_survives_ingest_and_transform(aws, name, safe):
    """End to end: the key S3 notifies (encoded) is the key the message, the manifest and the
    silver lineage name."""
    p = Pipeline(aws)
    key = clip_utf8(f"bronze/shipments/{name}", 1024 - len(".jsonl")) + ".jsonl"
    put = p.put(key, Content((Line(dumps({
        "record_type": "shipments", "event_time": "2026-01-05T03:00:00Z", "shipment_id": "shp_1",
        "origin": "SZX", "destination": "SEA"}), None),), False, False, False))  # fmt: skip
    record = s3_record(p.bronze, put, safe=safe)
    assert p.ingester.handle({"Records": [record]}, Context())["enqueued"] == 1
    (message,) = p.receive()
    assert Pointer.from_json(message["Body"]).key == key
    assert p.transform([message]) == set()
    (manifest_path,) = [k for k in p.objects() if k.startswith("_manifests/")]
    manifest = json.loads(p.read(manifest_path))
    assert manifest["source"]["key"] == key and manifest["rows_out"] == 1
    rows = pq.read_table(io.BytesIO(p.read(manifest["silver_key"]))).to_pylist()
    assert [r["_source_key"] for r in rows] == [key]


# -- 5. timestamps -------------------------------------------------------------------------------

whole_minute_offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m))
)
zones = whole_minute_offsets | st.timezones()
aware = st.datetimes(
    dt.datetime(1900, 1, 1), dt.datetime(2200, 12, 31, 23, 59, 59, 999999),
    timezones=zones, allow_imaginary=False,
).filter(lambda d: d.utcoffset() % dt.timedelta(minutes=1) == dt.timedelta(0))  # fmt: skip
naive = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 12, 31, 23, 59, 59, 999999))


@st.composite
def iso_8601(draw, moment: dt.datetime) -> str:
    """One of the ISO 8601 spellings of `moment` (RFC 3339 and the common variants)."""
    spec = "auto"
    if moment.second == 0 and moment.microsecond == 0 and draw(st.booleans()):
        spec = "minutes"
    elif draw(st.booleans()):
        spec = "microseconds"
    text = moment.isoformat(sep=draw(st.sampled_from("T ")), timespec=spec)
    if moment.utcoffset() == dt.timedelta(0) and draw(st.booleans()):
        text = text[: -len("+00:00")] + "Z"
    elif moment.tzinfo is not None and draw(st.booleans()):
        text = text[:-3] + text[-2:]  # +05:30 -> +0530
    return text


@settings(max_examples=40, **FAST)
@given(data=st.data(), moments=st.lists(aware | naive, min_size=1, max_size=20))
def test_timestamps_come_out_of_silver_as_the_same_instant_in_utc(aws, data, moments):
    p = Pipeline(aws)
    texts = [data.draw(iso_8601(m)) for m in moments]
    body = b"\n".join(
        dumps({"record_type": "shipments", "event_time": text, "shipment_id": f"shp_{i}",
               "origin": "SZX", "destination": "SEA"})
        for i, text in enumerate(texts)
    )  # fmt: skip
    key = f"bronze/shipments/dt={DAY}/times.jsonl"
    p.aws.s3.put_object(Bucket=p.bronze, Key=key, Body=body)
    outcome = process_object(p.aws.s3, SHIPMENTS, p.silver, p.bronze, key)
    assert outcome.manifest["rows_quarantined"] == 0, outcome.manifest["quarantine_by_code"]
    table = pq.read_table(io.BytesIO(p.read(outcome.manifest["silver_key"])))
    assert table.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    rows = table.to_pylist()
    assert [r["_line"] for r in rows] == list(range(1, len(moments) + 1))
    for moment, text, row in zip(moments, texts, rows, strict=True):
        expected = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
        got = row["event_time"]
        assert got.utcoffset() == dt.timedelta(0), (text, got)
        assert got == expected.astimezone(dt.UTC), (text, got)
        assert got.replace(tzinfo=None) == expected.astimezone(dt.UTC).replace(tzinfo=None)
