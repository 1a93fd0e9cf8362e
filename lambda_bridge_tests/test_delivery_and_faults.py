"""Duplicate, concurrent and late deliveries, and faults mid-way, under in-process moto.

Every test ends with record conservation read back from storage (`assert_conserved`): each
input line is in silver or quarantine exactly once, and the manifest agrees.
"""

import dataclasses
import datetime as dt
import io
import json
import threading
import time
from collections import Counter
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from elt_assets.cli.samples import generate
from elt_assets.lib.redrive import redrive
from elt_assets.lib.state import summarise, where
from lambda_bridge.idempotency import persistence_layer
from lambda_bridge.ingest import Ingester
from lambda_bridge.ingest import make_handler as make_ingest
from lambda_bridge.keys import index_key, manifest_key, part_id, quarantine_key, silver_key
from lambda_bridge.messages import Pointer
from lambda_bridge.transform import Transformer
from lambda_bridge.transform import make_handler as make_transform

from .conftest import GOOD_SHIPMENT
from .conservation import assert_conserved, read_stored
from .test_handlers import Context, pointer, put, s3_event
from .test_handlers import sqs_event as sqs_event_of

# An invocation that raises before adding a metric flushes none; Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
DATASET = "shipments"
DAY = "2026-01-05"


def lines(seed: int, count: int = 30) -> bytes:
    """A JSONL shipments file with about 10 % bad lines (several reasons)."""
    return generate(
        DATASET, "jsonl", count, bad_ratio=0.1, seed=seed, day=dt.date.fromisoformat(DAY)
    ).data


class FunctionDied(BaseException):
    """The Lambda runtime killing the function (timeout, OOM): nothing in it can catch this."""


def inject(client: Any, operation: str, code: str, when: Any, status: int = 503) -> None:
    """Make `client` answer `operation` with the AWS error `code` while `when(params)` is true.

    The error comes back through botocore as from AWS (a modeled ClientError), after the
    client's own retries would have given up (no retry happens for an injected answer).
    """
    service = client.meta.service_model.service_id.hyphenize()

    def mark(params: dict, context: dict, **_: Any) -> None:
        if when(params):
            context["injected_fault"] = True

    def answer(context: dict, **_: Any) -> tuple | None:
        if not context.get("injected_fault"):
            return None
        http = AWSResponse("https://injected.invalid", status, {}, None)
        return http, {
            "Error": {"Code": code, "Message": "injected fault"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    client.meta.events.register(f"before-parameter-build.{service}.{operation}", mark)
    client.meta.events.register(f"before-call.{service}.{operation}", answer)


def once(predicate: Any) -> Any:
    """`predicate`, true for its first match only (a fault that a retry gets past)."""
    fired: list[bool] = []

    def when(params: dict) -> bool:
        if not fired and predicate(params):
            fired.append(True)
            return True
        return False

    return when


def sqs_event(messages: list[dict]) -> dict:
    """The event Lambda's SQS event source mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m.get("ReceiptHandle", "r"),
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:t-events",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


class HotPath:
    """The stack's buckets, queue and table, with handlers built on chosen clients."""

    def __init__(self, stack: Any, registry: Any) -> None:
        self.settings = stack.settings
        self.registry = registry
        self.contract = registry[DATASET]
        self.s3 = boto3.client("s3")
        self.sqs = boto3.client("sqs")
        self.ddb = boto3.client("dynamodb")
        self.inputs: dict[str, tuple[bytes, str | None]] = {}

    def put(self, name: str, body: bytes) -> tuple[str, str]:
        key = f"bronze/{DATASET}/dt={DAY}/{name}.jsonl"
        response = self.s3.put_object(Bucket=self.settings.bronze_bucket, Key=key, Body=body)
        self.inputs[key] = (body, response["VersionId"])
        return key, response["VersionId"]

    def event(self, key: str, version: str) -> dict:
        return s3_event(self.settings.bronze_bucket, key, version)

    def pointer(self, key: str, version: str) -> str:
        return Pointer(
            DATASET, self.settings.bronze_bucket, key, version, None, None, DAY
        ).to_json()

    def ingest(self, sqs: Any = None, ddb: Any = None) -> Any:
        persistence = persistence_layer(self.settings.idempotency_table, ddb or self.ddb)
        return make_ingest(Ingester(self.settings, self.registry, sqs or self.sqs, persistence))

    def transform(self, s3: Any = None, settings: Any = None) -> Any:
        return make_transform(Transformer(settings or self.settings, self.registry, s3 or self.s3))

    def take(self, url: str | None = None) -> list[dict]:
        """Receive and delete everything on a queue (the events queue by default)."""
        url = url or self.settings.queue_url
        out = []
        while got := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            out.extend(got)
            for m in got:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return out

    def run_transform(self, transform: Any = None) -> list[str]:
        """Deliver the events queue to the transform in batches of 10, as Lambda does; every
        message must succeed. Returns the bodies delivered."""
        transform = transform or self.transform()
        url, delivered = self.settings.queue_url, []
        while got := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            assert transform(sqs_event(got), Context()) == {"batchItemFailures": []}
            for m in got:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            delivered.extend(m["Body"] for m in got)
        return delivered

    def depth(self, url: str | None = None) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url or self.settings.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def records(self) -> list[dict]:
        return self.ddb.scan(TableName=self.settings.idempotency_table)["Items"]

    def manifest_exists(self, key: str) -> bool:
        pid = part_id(self.settings.bronze_bucket, key)
        try:
            self.s3.head_object(
                Bucket=self.settings.silver_bucket, Key=manifest_key(DATASET, DAY, pid)
            )
        except ClientError:
            return False
        return True

    def conserved(self) -> Any:
        return assert_conserved(self.s3, self.settings.silver_bucket, self.contract, self.inputs)


@pytest.fixture
def hot(mocked, registry) -> HotPath:
    return HotPath(mocked, registry)


def in_thread(target: Any, *args: Any) -> tuple[threading.Thread, dict]:
    """Run `target(*args)` in a thread; the dict gets its `result` or `error`."""
    out: dict = {}

    def run() -> None:
        try:
            out["result"] = target(*args)
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


# -- 1. the same S3 event, twice, concurrently --------------------------------------------------


def test_the_same_s3_event_delivered_twice_concurrently_enqueues_one_message(hot):
    """Two ingest invocations (two Lambda environments) race on one event: the second reaches
    DynamoDB's conditional write while the first is still sending, so the record exists and is
    INPROGRESS. It must fail as in progress (Lambda retries it), and its retry after the first
    has finished must be a duplicate that sends nothing."""
    key, version = hot.put("race", lines(1))
    event = hot.event(key, version)
    sending, release = threading.Event(), threading.Event()

    class SlowSQS:
        """The first environment's SQS: holds the send until the second has had its go."""

        def __getattr__(self, name):
            return getattr(hot.sqs, name)

        def send_message(self, **kwargs):
            sending.set()
            assert release.wait(10)
            return hot.sqs.send_message(**kwargs)

    first, second = hot.ingest(sqs=SlowSQS()), hot.ingest()
    thread, out = in_thread(first, event, Context())
    assert sending.wait(10)
    with pytest.raises(IdempotencyAlreadyInProgressError):
        second(event, Context())
    assert hot.depth() == 0  # the loser sent nothing
    release.set()
    thread.join(10)
    assert out.get("result", out)["enqueued"] == 1

    retry = second(event, Context())
    assert (retry["enqueued"], retry["duplicates"]) == (0, 1)
    (message,) = hot.take()
    assert json.loads(message["Body"])["version_id"] == version
    (record,) = hot.records()
    assert record["status"]["S"] == "COMPLETED"

    assert hot.transform()(sqs_event([message]), Context()) == {"batchItemFailures": []}
    hot.conserved()


# -- 2. the same pointer message, transformed twice concurrently ---------------------------------


@pytest.mark.parametrize("pause_at", ["silver", "manifest"])
def test_the_same_message_transformed_twice_concurrently_keeps_one_copy(hot, pause_at):
    """SQS can hand one message to two consumers. The first is held just before it writes its
    Parquet (or its manifest) while the second processes the message from start to end; then
    the first finishes. Whatever the interleaving, silver holds the rows once, one manifest."""
    key, version = hot.put("twice", lines(2))
    pid = part_id(hot.settings.bronze_bucket, key)
    held_key = (silver_key if pause_at == "silver" else manifest_key)(DATASET, DAY, pid)
    reached, resume = threading.Event(), threading.Event()

    class HeldS3:
        def __getattr__(self, name):
            return getattr(hot.s3, name)

        def put_object(self, **kwargs):
            if kwargs["Key"] == held_key and not reached.is_set():
                reached.set()
                assert resume.wait(10)
            return hot.s3.put_object(**kwargs)

    event = sqs_event([{"MessageId": "m-1", "Body": hot.pointer(key, version)}])
    thread, out = in_thread(hot.transform(s3=HeldS3()), event, Context())
    assert reached.wait(10)
    assert hot.transform()(event, Context()) == {"batchItemFailures": []}
    resume.set()
    thread.join(10)
    assert out.get("result", out) == {"batchItemFailures": []}

    stored = hot.conserved()
    assert len(stored.files["silver"]) == 1


# -- 3. a new version with the same bytes --------------------------------------------------------


def test_a_new_version_with_identical_bytes_is_a_new_message_and_replaces_the_rows(hot):
    ingest, transform = hot.ingest(), hot.transform()
    body = lines(3)
    key, v1 = hot.put("same-bytes", body)
    assert ingest(hot.event(key, v1), Context())["enqueued"] == 1
    assert len(hot.run_transform(transform)) == 1

    _, v2 = hot.put("same-bytes", body)
    assert v2 != v1
    assert ingest(hot.event(key, v2), Context())["enqueued"] == 1
    messages = hot.take()
    assert [json.loads(m["Body"])["version_id"] for m in messages] == [v2]
    assert transform(sqs_event(messages), Context()) == {"batchItemFailures": []}

    stored = hot.conserved()  # checks every row and the manifest name v2
    assert stored.manifests[key][0]["source"]["version_id"] == v2


# -- 4. replay after the idempotency record has gone ----------------------------------------------


@pytest.mark.parametrize("how", ["expired", "deleted_by_ttl"])
def test_a_replay_after_the_idempotency_record_expired_is_enqueued_and_adds_no_rows(hot, how):
    ingest = hot.ingest()
    key, version = hot.put("replayed", lines(4))
    event = hot.event(key, version)
    assert ingest(event, Context())["enqueued"] == 1
    assert ingest(event, Context())["duplicates"] == 1
    assert len(hot.run_transform()) == 1

    (record,) = hot.records()
    if how == "expired":  # past its TTL, not yet swept by DynamoDB
        hot.ddb.update_item(
            TableName=hot.settings.idempotency_table,
            Key={"id": record["id"]},
            UpdateExpression="SET #e = :past",
            ExpressionAttributeNames={"#e": "expiration"},
            ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 60)}},
        )
    else:
        hot.ddb.delete_item(TableName=hot.settings.idempotency_table, Key={"id": record["id"]})

    assert ingest(event, Context())["enqueued"] == 1
    assert len(hot.run_transform()) == 1
    hot.conserved()


# -- 5. a PutObject failing mid-write ----------------------------------------------------------------


@pytest.mark.parametrize("failing", ["quarantine", "manifest"])
def test_a_put_failing_after_the_parquet_fails_that_message_alone_and_commits_nothing(hot, failing):
    """The Parquet is written, then the quarantine (or manifest) PutObject fails: only that
    message is reported; no manifest is visible for it until the retry, so every reader that
    goes by manifests still sees a consistent dataset; the retry completes it."""
    objects = [hot.put(f"put-{i}", lines(10 + i)) for i in range(3)]
    bad_key = objects[1][0]
    pid = part_id(hot.settings.bronze_bucket, bad_key)
    doomed = {"quarantine": quarantine_key, "manifest": manifest_key}[failing](DATASET, DAY, pid)
    s3 = boto3.client("s3")
    inject(s3, "PutObject", "InternalError", once(lambda p: p.get("Key") == doomed), status=500)
    event = sqs_event(
        [{"MessageId": f"m{i}", "Body": hot.pointer(k, v)} for i, (k, v) in enumerate(objects)]
    )

    assert hot.transform(s3=s3)(event, Context()) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }
    # The fault struck after the Parquet was written, and before any manifest.
    hot.s3.head_object(Bucket=hot.settings.silver_bucket, Key=silver_key(DATASET, DAY, pid))
    assert [hot.manifest_exists(k) for k, _ in objects] == [True, False, True]
    before = summarise(hot.s3, hot.settings.silver_bucket, DATASET)
    assert (before.objects, before.conserved) == (2, True)

    retry = {"Records": [event["Records"][1]]}  # SQS hands back the failed message alone
    assert hot.transform(s3=s3)(retry, Context()) == {"batchItemFailures": []}
    hot.conserved()


def test_a_new_version_failing_mid_write_never_leaves_a_manifest_that_disagrees_with_its_files(
    hot,
):
    """The same fault for a key already processed: while the retry is pending (or if it never
    succeeds), the visible manifest must not describe files that now hold other rows."""
    key, v1 = hot.put("rewritten", lines(20, count=40))
    transform = hot.transform()
    assert transform(sqs_event([{"MessageId": "a", "Body": hot.pointer(key, v1)}]), Context()) == {
        "batchItemFailures": []
    }
    _, v2 = hot.put("rewritten", lines(21, count=12))
    pid = part_id(hot.settings.bronze_bucket, key)
    doomed = quarantine_key(DATASET, DAY, pid)
    s3 = boto3.client("s3")
    inject(s3, "PutObject", "InternalError", once(lambda p: p.get("Key") == doomed), status=500)
    event = sqs_event([{"MessageId": "b", "Body": hot.pointer(key, v2)}])

    with pytest.raises(BatchProcessingError):  # its only message failed: the whole batch did
        hot.transform(s3=s3)(event, Context())
    assert summarise(hot.s3, hot.settings.silver_bucket, DATASET).conserved
    fate = where(hot.s3, hot.ddb, hot.settings, hot.registry, hot.settings.bronze_bucket, key)
    assert "no manifest" in fate[-1]  # `elt where` says so rather than showing v1's counts

    assert hot.transform(s3=s3)(event, Context()) == {"batchItemFailures": []}
    hot.conserved()


def test_a_retry_that_learns_from_the_index_it_is_stale_withdraws_its_earlier_attempt(
    hot, monkeypatch
):
    """v1 of an undated key writes its Parquet for day 1 and fails on its quarantine put. Its
    retry passes the current-version check; then, before the retry reads the index, v2 lands the
    next day and another invocation transforms it to the end. The retry learns it is stale from
    the index, not from S3's current version, and v2's run never knew where v1 wrote: the retry
    must withdraw day 1, or v1's row stays in silver for good (v2's message is gone)."""
    import moto.s3.models

    s = hot.settings
    key = f"bronze/{DATASET}/undated.jsonl"
    pid = part_id(s.bronze_bucket, key)
    monkeypatch.setattr(moto.s3.models, "utcnow", lambda: dt.datetime(2026, 1, 5, 23, 0))
    v1 = hot.s3.put_object(
        Bucket=s.bronze_bucket, Key=key, Body=GOOD_SHIPMENT + b'\n{"record_type": "shipments"}'
    )["VersionId"]

    def message(version: str) -> dict:
        body = Pointer(DATASET, s.bronze_bucket, key, version).to_json()
        return sqs_event([{"MessageId": version, "Body": body}])

    flaky = boto3.client("s3")
    inject(flaky, "PutObject", "SlowDown", once(lambda p: p["Key"].startswith("quarantine/")))
    with pytest.raises(BatchProcessingError):
        hot.transform(s3=flaky)(message(v1), Context())
    assert hot.s3.list_objects_v2(Bucket=s.silver_bucket, Prefix="silver/")["KeyCount"] == 1

    landed: list[str] = []

    def v2_lands_and_is_transformed() -> None:
        monkeypatch.setattr(moto.s3.models, "utcnow", lambda: dt.datetime(2026, 1, 6, 1, 0))
        landed.append(
            hot.s3.put_object(Bucket=s.bronze_bucket, Key=key, Body=GOOD_SHIPMENT)["VersionId"]
        )
        assert hot.transform()(message(landed[0]), Context()) == {"batchItemFailures": []}

    class V2LandsBeforeTheIndexRead:
        def __getattr__(self, name):
            return getattr(hot.s3, name)

        def get_object(self, **kwargs):
            if kwargs["Key"].startswith("_index/") and not landed:
                v2_lands_and_is_transformed()
            return hot.s3.get_object(**kwargs)

    retry = hot.transform(s3=V2LandsBeforeTheIndexRead())
    assert retry(message(v1), Context()) == {"batchItemFailures": []}
    keys = sorted(o["Key"] for o in hot.s3.list_objects_v2(Bucket=s.silver_bucket)["Contents"])
    assert keys == [
        index_key(DATASET, pid),
        manifest_key(DATASET, "2026-01-06", pid),
        silver_key(DATASET, "2026-01-06", pid),
    ]
    assert_conserved(hot.s3, s.silver_bucket, hot.contract, {key: (GOOD_SHIPMENT, landed[0])})


@pytest.mark.parametrize("undated", [True, False])
def test_a_run_that_fails_after_its_index_and_was_overtaken_hands_over_to_the_newer_version(
    hot, monkeypatch, undated
):
    """v1's run passes its newest-wins checks; v2 lands (the next day, for an undated key) and
    another invocation transforms it to the end; then v1's run writes its outputs and its index
    on top, and its last S3 call, the check that would have rewritten v2, fails. Its retry is
    stale, but v1 was the last writer: v2's message is gone, so the retry must write v2, or
    v1's rows stay (beside v2's on another day, or instead of them on the same day)."""
    import moto.s3.models

    s = hot.settings
    key = f"bronze/{DATASET}/undated.jsonl" if undated else f"bronze/{DATASET}/dt={DAY}/a.jsonl"
    pid = part_id(s.bronze_bucket, key)
    day2 = "2026-01-06" if undated else DAY
    monkeypatch.setattr(moto.s3.models, "utcnow", lambda: dt.datetime(2026, 1, 5, 23, 0))
    v1_body = b"\n".join([GOOD_SHIPMENT] * 3)
    v1 = hot.s3.put_object(Bucket=s.bronze_bucket, Key=key, Body=v1_body)["VersionId"]

    def message(version: str) -> dict:
        body = Pointer(DATASET, s.bronze_bucket, key, version).to_json()
        return sqs_event([{"MessageId": version, "Body": body}])

    landed: list[str] = []

    class V2OvertakesThenTheLastCheckFails:
        def __getattr__(self, name):
            return getattr(hot.s3, name)

        def put_object(self, **kwargs):
            if kwargs["Key"].startswith("silver/") and not landed:
                monkeypatch.setattr(moto.s3.models, "utcnow", lambda: dt.datetime(2026, 1, 6, 1, 0))
                v2 = hot.s3.put_object(Bucket=s.bronze_bucket, Key=key, Body=GOOD_SHIPMENT)
                landed.append(v2["VersionId"])
                assert hot.transform()(message(landed[0]), Context()) == {"batchItemFailures": []}
            return hot.s3.put_object(**kwargs)

        def head_object(self, **kwargs):
            if landed and kwargs["Bucket"] == s.bronze_bucket:
                raise ClientError({"Error": {"Code": "SlowDown", "Message": "x"}}, "HeadObject")
            return hot.s3.head_object(**kwargs)

    with pytest.raises(BatchProcessingError):
        hot.transform(s3=V2OvertakesThenTheLastCheckFails())(message(v1), Context())
    assert hot.transform()(message(v1), Context()) == {"batchItemFailures": []}

    keys = sorted(o["Key"] for o in hot.s3.list_objects_v2(Bucket=s.silver_bucket)["Contents"])
    assert keys == [
        index_key(DATASET, pid),
        manifest_key(DATASET, day2, pid),
        silver_key(DATASET, day2, pid),
    ]
    assert_conserved(hot.s3, s.silver_bucket, hot.contract, {key: (GOOD_SHIPMENT, landed[0])})


# -- 6. the function dying mid-batch ---------------------------------------------------------------


def _snapshot(s3: Any, bucket: str) -> dict[str, Any]:
    """Every output object's content, without the times that differ between runs."""
    out: dict[str, Any] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            if item["Key"].endswith(".parquet"):
                rows = pq.read_table(io.BytesIO(body)).drop_columns(["_ingested_at"]).to_pylist()
                out[item["Key"]] = rows
            elif item["Key"].startswith("_manifests/"):
                manifest = json.loads(body)
                out[item["Key"]] = {
                    k: v for k, v in manifest.items() if k not in ("processed_at", "duration_ms")
                }
            else:
                out[item["Key"]] = body
    return out


def test_a_function_dying_mid_batch_gets_the_whole_batch_back_and_ends_as_one_clean_run(hot):
    """The transform is killed while writing the 3rd of 5 objects (its Parquet written, its
    manifest not): no partial batch response exists, so all 5 messages come back. Processing
    them again leaves exactly the keys and rows one clean run leaves."""
    objects = [hot.put(f"batch-{i}", lines(30 + i)) for i in range(5)]
    event = sqs_event(
        [{"MessageId": f"m{i}", "Body": hot.pointer(k, v)} for i, (k, v) in enumerate(objects)]
    )
    dying_manifest = manifest_key(DATASET, DAY, part_id(hot.settings.bronze_bucket, objects[2][0]))

    class DyingS3:
        def __getattr__(self, name):
            return getattr(hot.s3, name)

        def put_object(self, **kwargs):
            if kwargs["Key"] == dying_manifest:
                raise FunctionDied("Task timed out after 300.00 seconds")
            return hot.s3.put_object(**kwargs)

    with pytest.raises(FunctionDied):
        hot.transform(s3=DyingS3())(event, Context())
    assert [hot.manifest_exists(k) for k, _ in objects] == [True, True, False, False, False]

    # Lambda redelivers the whole batch (to a fresh environment).
    assert hot.transform()(event, Context()) == {"batchItemFailures": []}
    hot.conserved()

    reference = "t-reference-silver"
    hot.s3.create_bucket(Bucket=reference)
    clean = hot.transform(settings=dataclasses.replace(hot.settings, silver_bucket=reference))
    assert clean(event, Context()) == {"batchItemFailures": []}
    assert _snapshot(hot.s3, hot.settings.silver_bucket) == _snapshot(hot.s3, reference)


# -- 7. the whole batch failing ----------------------------------------------------------------------


def test_a_batch_whose_every_message_fails_raises_and_is_redelivered_whole(hot):
    """S3 is down for every record: Powertools raises BatchProcessingError (it does not return
    every id as a failure), so Lambda retries the whole batch; nothing is written meanwhile,
    and once S3 is back the redelivered batch conserves every line."""
    objects = [hot.put(f"down-{i}", lines(40 + i)) for i in range(4)]
    event = sqs_event(
        [{"MessageId": f"m{i}", "Body": hot.pointer(k, v)} for i, (k, v) in enumerate(objects)]
    )
    s3 = boto3.client("s3")
    down = [True]
    inject(s3, "GetObject", "ServiceUnavailable", lambda p: down[0], status=503)
    transform = hot.transform(s3=s3)

    with pytest.raises(BatchProcessingError) as failure:
        transform(event, Context())
    assert len(failure.value.child_exceptions) == 4
    assert "Contents" not in hot.s3.list_objects_v2(Bucket=hot.settings.silver_bucket)

    down[0] = False
    assert transform(event, Context()) == {"batchItemFailures": []}
    hot.conserved()


# -- 8. DynamoDB throttling the idempotency writes ----------------------------------------------------


def test_a_throttled_idempotency_write_fails_the_delivery_and_the_retry_enqueues_once(hot):
    key, version = hot.put("throttled", lines(50))
    event = hot.event(key, version)
    ddb = boto3.client("dynamodb")
    inject(ddb, "PutItem", "ProvisionedThroughputExceededException", once(lambda p: True), 400)
    ingest = hot.ingest(ddb=ddb)

    with pytest.raises(IdempotencyPersistenceLayerError):  # the invocation fails: Lambda retries
        ingest(event, Context())
    assert (hot.depth(), hot.records()) == (0, [])

    assert ingest(event, Context())["enqueued"] == 1
    assert ingest(event, Context())["duplicates"] == 1
    assert len(hot.run_transform()) == 1
    hot.conserved()


def test_a_throttled_success_update_after_the_send_costs_at_most_a_duplicate_message(hot):
    """The message is sent, then recording success is throttled: the invocation fails and the
    record stays INPROGRESS. A retry inside the in-progress window sends nothing; once that
    window (the function's timeout) has passed, the retry sends again. Two messages, one copy
    of the rows."""
    key, version = hot.put("half-recorded", lines(51))
    event = hot.event(key, version)
    ddb = boto3.client("dynamodb")
    inject(ddb, "UpdateItem", "ProvisionedThroughputExceededException", once(lambda p: True), 400)
    ingest = hot.ingest(ddb=ddb)

    with pytest.raises(IdempotencyPersistenceLayerError):
        ingest(event, Context())
    assert hot.depth() == 1
    with pytest.raises(IdempotencyAlreadyInProgressError):
        ingest(event, Context())
    assert hot.depth() == 1

    (record,) = hot.records()
    hot.ddb.update_item(
        TableName=hot.settings.idempotency_table,
        Key={"id": record["id"]},
        UpdateExpression="SET #p = :past",
        ExpressionAttributeNames={"#p": "in_progress_expiration"},
        ExpressionAttributeValues={":past": {"N": str(int(time.time() * 1000) - 1000)}},
    )
    assert ingest(event, Context())["enqueued"] == 1
    assert len(hot.run_transform()) == 2
    hot.conserved()


# -- 9. the DLQ redrive interrupted ---------------------------------------------------------------------


def _dead_letters(hot: HotPath, n: int) -> list[str]:
    """n objects whose pointer messages sit in the DLQ (as after maxReceiveCount failures)."""
    bodies = []
    for i in range(n):
        key, version = hot.put(f"dead-{i}", lines(60 + i, count=8))
        bodies.append(hot.pointer(key, version))
        hot.sqs.send_message(QueueUrl=hot.settings.dlq_url, MessageBody=bodies[-1])
    return bodies


def test_a_redrive_killed_between_send_and_delete_resumes_and_loses_nothing(hot):
    bodies = _dead_letters(hot, 15)
    calls = Counter()

    class KilledSQS:
        """The redrive process dies at its second delete: that batch was sent, not deleted."""

        def __getattr__(self, name):
            return getattr(hot.sqs, name)

        def delete_message_batch(self, **kwargs):
            calls["delete"] += 1
            if calls["delete"] == 2:
                raise FunctionDied("killed")
            return hot.sqs.delete_message_batch(**kwargs)

    # Visibility 0: what the dead run had received is visible again at once (in real life,
    # after the visibility timeout).
    with pytest.raises(FunctionDied):
        redrive(KilledSQS(), hot.settings.dlq_url, hot.settings.queue_url,
                visibility_timeout=0, wait_time_seconds=0)  # fmt: skip
    stranded = hot.depth(hot.settings.dlq_url)
    assert 0 < stranded < 15 and hot.depth() == 15  # all sent, some still in the DLQ

    result = redrive(hot.sqs, hot.settings.dlq_url, hot.settings.queue_url, wait_time_seconds=0)
    assert (result.moved, result.failed, hot.depth(hot.settings.dlq_url)) == (stranded, 0, 0)
    moved = Counter(
        m["Body"]
        for m in hot.sqs.receive_message(
            QueueUrl=hot.settings.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
    )
    assert hot.depth() == 15 + stranded
    assert set(moved) <= set(bodies)

    assert len(hot.run_transform()) == 15 + stranded
    hot.conserved()


def test_a_redrive_whose_deletes_keep_failing_sends_each_message_once_per_run(hot):
    """Deleting from the DLQ fails for a whole run (say a missing sqs:DeleteMessage grant) that
    outlasts the visibility timeout, so the messages it already copied come back to it. It
    must not copy them again and again: it ends, every message still in the DLQ, each copied at
    most once; a later run with the grant moves the rest; silver ends exactly once."""
    bodies = _dead_letters(hot, 15)
    sends = Counter()

    class NoDeleteGrant:
        def __getattr__(self, name):
            return getattr(hot.sqs, name)

        def send_message_batch(self, **kwargs):
            for entry in kwargs["Entries"]:
                sends[entry["MessageBody"]] += 1
            assert sends.total() <= 3 * len(bodies), "the redrive keeps re-sending what it sent"
            return hot.sqs.send_message_batch(**kwargs)

        def delete_message_batch(self, **kwargs):
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized"}},
                "DeleteMessageBatch",
            )

    result = redrive(NoDeleteGrant(), hot.settings.dlq_url, hot.settings.queue_url,
                     visibility_timeout=0, wait_time_seconds=0)  # fmt: skip
    assert sends and max(sends.values()) == 1
    assert result.errors and all("may be moved twice" in e for e in result.errors)
    assert hot.depth(hot.settings.dlq_url) == 15  # nothing lost: all still in the DLQ

    redrive(hot.sqs, hot.settings.dlq_url, hot.settings.queue_url, wait_time_seconds=0)
    assert hot.depth(hot.settings.dlq_url) == 0
    assert hot.depth() == 15 + sends.total()
    assert len(hot.run_transform()) == 15 + sends.total()
    hot.conserved()


# -- an object too large for the function's memory --------------------------------------------


def test_settings_limit_objects_to_a_quarter_of_the_lambda_memory_unless_told():
    from lambda_bridge.config import Settings
    from lambda_bridge.exceptions import ConfigError

    assert Settings.from_env({}).max_object_bytes is None  # local runs, Dagster: no limit
    on_lambda = Settings.from_env({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"})
    assert on_lambda.max_object_bytes == 256 * 2**20
    explicit = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "ELT_MAX_OBJECT_BYTES": "1000"}
    assert Settings.from_env(explicit).max_object_bytes == 1000
    assert Settings.from_env(explicit).as_env()["ELT_MAX_OBJECT_BYTES"] == "1000"
    with pytest.raises(ConfigError, match="ELT_MAX_OBJECT_BYTES must be a positive number"):
        Settings.from_env({"ELT_MAX_OBJECT_BYTES": "lots"})


def test_an_object_too_large_for_the_function_is_quarantined_whole_not_retried(
    mocked, registry, monkeypatch
):
    """Without the limit it would exhaust the function's memory on every retry, then sit in the
    DLQ with no reason given; with it, the manifest and quarantine say what happened."""
    s = dataclasses.replace(mocked.settings, max_object_bytes=4096)
    key = "bronze/shipments/dt=2026-01-05/huge.jsonl"
    body = b"\n".join([GOOD_SHIPMENT] * 200) + b"\n"
    version = put(s, key, body)
    transform = make_transform(Transformer(s, registry, boto3.client("s3")))
    assert transform(sqs_event_of(pointer(s, key, version)), Context()) == {"batchItemFailures": []}
    stored = read_stored(boto3.client("s3"), s.silver_bucket, "shipments")
    (manifest,) = stored.manifests[key]
    assert (manifest["lines_in"], manifest["rows_out"], manifest["rows_quarantined"]) == (1, 0, 1)
    assert manifest["source"]["size"] == len(body)
    (record,) = stored.quarantine[key]
    assert record["_error_code"] == "too_large" and record["_raw_truncated"] is True
    assert f"object of {len(body)} bytes" in record["_error"]
    assert len(record["raw"].encode()) <= 64 * 1024 and body.startswith(record["raw"].encode())
