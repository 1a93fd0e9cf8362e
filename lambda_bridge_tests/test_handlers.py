"""The two Lambda handlers under in-process moto (mock_aws)."""

import base64
import datetime as dt
import io
import json
from urllib.parse import quote_plus

import boto3
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from lambda_bridge.config import Settings
from lambda_bridge.idempotency import persistence_layer
from lambda_bridge.ingest import Ingester
from lambda_bridge.ingest import make_handler as make_ingest
from lambda_bridge.keys import index_key, manifest_key, part_id, quarantine_key, silver_key
from lambda_bridge.messages import Pointer
from lambda_bridge.process import process_object
from lambda_bridge.quarantine import QUARANTINE_PART_BYTES
from lambda_bridge.transform import Transformer
from lambda_bridge.transform import make_handler as make_transform

from .conftest import GOOD_SHIPMENT

KEY = "bronze/shipments/dt=2026-01-05/batch 1+x.jsonl"


class Context:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:test"
    aws_request_id = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def s3_event(bucket: str, key: str, version_id: str | None, etag: str = "e") -> dict:
    obj = {"key": quote_plus(key), "size": 10, "eTag": etag}
    if version_id:
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-01-05T10:00:00.000Z",
                "s3": {"bucket": {"name": bucket}, "object": obj},
            }
        ]
    }


def queue_messages(settings: Settings) -> list[dict]:
    sqs = boto3.client("sqs")
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=settings.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not got:
            return out
        out.extend(got)
        for m in got:
            sqs.delete_message(QueueUrl=settings.queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def ingest(mocked, registry):
    ingester = Ingester(
        mocked.settings,
        registry,
        boto3.client("sqs"),
        persistence_layer(mocked.settings.idempotency_table, boto3.client("dynamodb")),
    )
    return make_ingest(ingester)


def put(settings: Settings, key: str, body: bytes) -> str:
    return boto3.client("s3").put_object(Bucket=settings.bronze_bucket, Key=key, Body=body)[
        "VersionId"
    ]


def test_one_pointer_message_per_object_with_the_decoded_key(mocked, ingest):
    version = put(mocked.settings, KEY, GOOD_SHIPMENT)
    summary = ingest(s3_event(mocked.settings.bronze_bucket, KEY, version), Context())
    assert summary["enqueued"] == 1
    (message,) = queue_messages(mocked.settings)
    body = json.loads(message["Body"])
    assert body == {
        "v": 1, "dataset": "shipments", "bucket": mocked.settings.bronze_bucket, "key": KEY,
        "version_id": version, "etag": "e", "size": 10, "dt": "2026-01-05",
    }  # fmt: skip


def test_a_record_without_size_or_etag_and_other_events_are_handled(mocked, ingest):
    """The fields S3 may leave out become nulls; a record that is not ObjectCreated is ignored;
    a key with `+`, `%2B`, a space and non-ASCII is decoded exactly once."""
    key = "bronze/shipments/a+b %2B café.jsonl"
    version = put(mocked.settings, key, GOOD_SHIPMENT)
    event = s3_event(mocked.settings.bronze_bucket, key, version)
    record = event["Records"][0]
    del record["s3"]["object"]["size"], record["s3"]["object"]["eTag"]
    removed = {**record, "eventName": "ObjectRemoved:Delete"}
    summary = ingest({"Records": [record, removed]}, Context())
    assert (summary["enqueued"], summary["ignored"]) == (1, 1)
    (message,) = queue_messages(mocked.settings)
    body = json.loads(message["Body"])
    assert (body["key"], body["size"], body["etag"], body["dt"]) == (key, None, None, "2026-01-05")
    assert ingest({}, Context())["enqueued"] == 0


def test_a_duplicate_s3_delivery_is_processed_once(mocked, ingest):
    version = put(mocked.settings, KEY, GOOD_SHIPMENT)
    event = s3_event(mocked.settings.bronze_bucket, KEY, version)
    first = ingest(event, Context())
    second = ingest(event, Context())
    assert (first["enqueued"], second["enqueued"], second["duplicates"]) == (1, 0, 1)
    assert len(queue_messages(mocked.settings)) == 1


def test_a_new_version_of_the_same_key_is_a_new_message(mocked, ingest):
    v1 = put(mocked.settings, KEY, GOOD_SHIPMENT)
    v2 = put(mocked.settings, KEY, GOOD_SHIPMENT + b"\n" + GOOD_SHIPMENT)
    ingest(s3_event(mocked.settings.bronze_bucket, KEY, v1), Context())
    ingest(s3_event(mocked.settings.bronze_bucket, KEY, v2), Context())
    assert [json.loads(m["Body"])["version_id"] for m in queue_messages(mocked.settings)] == [
        v1,
        v2,
    ]


def test_unversioned_objects_are_deduplicated_by_etag(mocked, ingest):
    bucket = mocked.settings.bronze_bucket
    ingest(s3_event(bucket, KEY, None, etag="aaa"), Context())
    ingest(s3_event(bucket, KEY, None, etag="aaa"), Context())
    ingest(s3_event(bucket, KEY, None, etag="bbb"), Context())
    assert [json.loads(m["Body"])["etag"] for m in queue_messages(mocked.settings)] == [
        "aaa",
        "bbb",
    ]


def test_a_key_under_no_dataset_is_skipped_not_retried(mocked, ingest):
    summary = ingest(
        s3_event(mocked.settings.bronze_bucket, "bronze/unknown/a.jsonl", "v"), Context()
    )
    assert summary["unknown_dataset"] == 1
    assert queue_messages(mocked.settings) == []


def test_a_failed_send_leaves_no_idempotency_record_so_the_retry_works(mocked, registry):
    class FlakySQS:
        def __init__(self):
            self.real, self.calls = boto3.client("sqs"), 0

        def send_message(self, **kwargs):
            self.calls += 1
            if self.calls == 1:
                raise ClientError(
                    {"Error": {"Code": "ServiceUnavailable", "Message": "try again"}}, "SendMessage"
                )
            return self.real.send_message(**kwargs)

    persistence = persistence_layer(mocked.settings.idempotency_table, boto3.client("dynamodb"))
    handler = make_ingest(Ingester(mocked.settings, registry, FlakySQS(), persistence))
    event = s3_event(mocked.settings.bronze_bucket, KEY, put(mocked.settings, KEY, GOOD_SHIPMENT))
    with pytest.raises(ClientError):
        handler(event, Context())
    assert handler(event, Context())["enqueued"] == 1
    assert len(queue_messages(mocked.settings)) == 1


# -- transform --------------------------------------------------------------------------------


def sqs_event(*bodies: str) -> dict:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def pointer(settings: Settings, key: str, version: str | None) -> str:
    return Pointer("shipments", settings.bronze_bucket, key, version, None, None, None).to_json()


def read_silver(settings: Settings, key: str) -> list[dict]:
    body = boto3.client("s3").get_object(Bucket=settings.silver_bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body)).to_pylist()


@pytest.fixture
def transform(mocked, registry):
    return make_transform(Transformer(mocked.settings, registry, boto3.client("s3")))


def test_transform_writes_silver_quarantine_and_manifest_at_deterministic_keys(mocked, transform):
    s = mocked.settings
    version = put(s, KEY, b"\n".join([GOOD_SHIPMENT, b"{broken", GOOD_SHIPMENT]))
    assert transform(sqs_event(pointer(s, KEY, version)), Context()) == {"batchItemFailures": []}
    pid = part_id(s.bronze_bucket, KEY)
    rows = read_silver(s, silver_key("shipments", "2026-01-05", pid))
    assert [(r["_line"], r["_source_key"], r["_source_version"]) for r in rows] == [
        (1, KEY, version),
        (3, KEY, version),
    ]
    assert all(r["_ingested_at"].tzinfo is not None for r in rows)
    s3 = boto3.client("s3")
    quarantine = s3.get_object(
        Bucket=s.silver_bucket, Key=quarantine_key("shipments", "2026-01-05", pid)
    )["Body"].read()
    (bad,) = [json.loads(line) for line in quarantine.splitlines()]
    assert bad == {
        "_source_key": KEY, "_source_version": version, "_line": 2, "_error_code": "json_decode",
        "_error": bad["_error"], "raw": "{broken",
    }  # fmt: skip
    manifest = json.loads(
        s3.get_object(Bucket=s.silver_bucket, Key=manifest_key("shipments", "2026-01-05", pid))[
            "Body"
        ].read()
    )
    assert (
        manifest["lines_in"] == 3
        and manifest["rows_out"] == 2
        and manifest["rows_quarantined"] == 1
    )
    assert manifest["source"]["version_id"] == version
    assert set(manifest) >= {"dataset", "dt", "source", "lines_in", "rows_out", "rows_quarantined", "silver_key",
                             "quarantine_key", "transform_version", "processed_at"}  # fmt: skip


def test_a_quarantine_larger_than_a_part_is_uploaded_in_parts_and_loses_no_line(mocked, transform):
    """A poison file's quarantine (~3x the file) is streamed as an S3 multipart upload; every
    line is still there once, in order, with the exact bytes of the lines that are not UTF-8."""
    s = mocked.settings
    lines = []
    for no in range(1, 24_001):
        if no == 12_000:
            lines.append(GOOD_SHIPMENT)
        elif no % 7 == 0:
            lines.append(b'{"shipment_id": "' + b"\xff" + b"x" * 900 + f"{no}".encode())
        else:
            lines.append(b'{"shipment_id": "' + b"x" * 900 + f"{no}".encode())
    version = put(s, KEY, b"\n".join(lines))
    assert transform(sqs_event(pointer(s, KEY, version)), Context()) == {"batchItemFailures": []}
    pid = part_id(s.bronze_bucket, KEY)
    s3 = boto3.client("s3")
    qkey = quarantine_key("shipments", "2026-01-05", pid)
    head = s3.head_object(Bucket=s.silver_bucket, Key=qkey)
    assert head["ContentLength"] > 2 * QUARANTINE_PART_BYTES
    assert head["ETag"].strip('"').rsplit("-", 1)[1] == str(
        -(-head["ContentLength"] // QUARANTINE_PART_BYTES)
    )  # a multipart upload's ETag ends with its number of parts
    body = s3.get_object(Bucket=s.silver_bucket, Key=qkey)["Body"].read()
    records = [json.loads(line) for line in body.splitlines()]
    assert [r["_line"] for r in records] == [no for no in range(1, 24_001) if no != 12_000]
    for record in records:
        raw = lines[record["_line"] - 1]
        if record["_line"] % 7 == 0:
            assert record["_error_code"] == "encoding"
            assert base64.b64decode(record["raw_base64"]) == raw
        else:
            assert record["_error_code"] == "json_decode" and record["raw"] == raw.decode()
    assert [r["_line"] for r in read_silver(s, silver_key("shipments", "2026-01-05", pid))] == [
        12_000
    ]
    manifest = json.loads(
        s3.get_object(Bucket=s.silver_bucket, Key=manifest_key("shipments", "2026-01-05", pid))[
            "Body"
        ].read()
    )
    assert (manifest["lines_in"], manifest["rows_out"], manifest["rows_quarantined"]) == (
        24_000,
        1,
        23_999,
    )


def test_replaying_the_same_version_overwrites_instead_of_duplicating(mocked, transform):
    s = mocked.settings
    version = put(s, KEY, b"\n".join([GOOD_SHIPMENT] * 4))
    for _ in range(3):
        transform(sqs_event(pointer(s, KEY, version)), Context())
    listing = boto3.client("s3").list_objects_v2(Bucket=s.silver_bucket, Prefix="silver/")[
        "Contents"
    ]
    assert len(listing) == 1
    assert len(read_silver(s, listing[0]["Key"])) == 4


def test_a_new_version_replaces_the_keys_rows(mocked, transform):
    s = mocked.settings
    v1 = put(s, KEY, b"\n".join([GOOD_SHIPMENT] * 4))
    transform(sqs_event(pointer(s, KEY, v1)), Context())
    v2 = put(s, KEY, GOOD_SHIPMENT)
    transform(sqs_event(pointer(s, KEY, v2)), Context())
    rows = read_silver(s, silver_key("shipments", "2026-01-05", part_id(s.bronze_bucket, KEY)))
    assert [(r["_source_version"], r["_line"]) for r in rows] == [(v2, 1)]


def test_a_late_old_version_never_overwrites_a_newer_one(mocked, transform):
    s = mocked.settings
    v1 = put(s, KEY, b"\n".join([GOOD_SHIPMENT] * 4))
    v2 = put(s, KEY, GOOD_SHIPMENT)
    transform(sqs_event(pointer(s, KEY, v2)), Context())
    assert transform(sqs_event(pointer(s, KEY, v1)), Context()) == {"batchItemFailures": []}
    rows = read_silver(s, silver_key("shipments", "2026-01-05", part_id(s.bronze_bucket, KEY)))
    assert {r["_source_version"] for r in rows} == {v2}


def test_a_new_version_dated_another_day_leaves_no_rows_behind(mocked, registry):
    s = mocked.settings
    s3 = boto3.client("s3")
    key = "bronze/shipments/undated.jsonl"
    v1 = put(s, key, b"\n".join([GOOD_SHIPMENT] * 3))
    day1, day2 = (
        dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 6, 12, tzinfo=dt.UTC),
    )

    class DatedS3:
        """moto stamps LastModified with now; pretend the two versions landed on two days."""

        def __init__(self, when):
            self.when = when

        def __getattr__(self, name):
            return getattr(s3, name)

        def get_object(self, **kwargs):
            response = s3.get_object(**kwargs)
            if kwargs["Bucket"] == s.bronze_bucket:
                response["LastModified"] = self.when
            return response

    process_object(DatedS3(day1), registry["shipments"], s.silver_bucket, s.bronze_bucket, key, v1)
    v2 = put(s, key, GOOD_SHIPMENT)
    process_object(DatedS3(day2), registry["shipments"], s.silver_bucket, s.bronze_bucket, key, v2)
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=s.silver_bucket)["Contents"]
        if not o["Key"].startswith("_index/")
    ]
    assert all("dt=2026-01-06" in k for k in keys), keys
    pid = part_id(s.bronze_bucket, key)
    assert (
        json.loads(
            s3.get_object(Bucket=s.silver_bucket, Key=index_key("shipments", pid))["Body"].read()
        )["dt"]
        == "2026-01-06"
    )


def test_a_version_that_failed_half_way_leaves_nothing_behind_once_a_newer_day_wins(
    mocked, registry, monkeypatch
):
    """v1 of an undated key writes its Parquet for day 1 and dies before its manifest; v2 lands
    the next day and is transformed; v1's retry finds itself stale. Nothing of v1 may stay in
    day 1's partition: no manifest names that file, and v2's run never knew where v1 wrote."""
    import moto.s3.models

    s = mocked.settings
    s3 = boto3.client("s3")
    contract = registry["shipments"]
    key = "bronze/shipments/undated.jsonl"
    pid = part_id(s.bronze_bucket, key)
    monkeypatch.setattr(moto.s3.models, "utcnow", lambda: dt.datetime(2026, 1, 5, 23, 0))
    v1 = put(s, key, b"\n".join([GOOD_SHIPMENT] * 3))

    class DiesBeforeTheManifest:
        def __getattr__(self, name):
            return getattr(s3, name)

        def put_object(self, **kwargs):
            if kwargs["Key"].startswith("_manifests/"):
                raise RuntimeError("Task timed out")
            return s3.put_object(**kwargs)

    with pytest.raises(RuntimeError):
        process_object(DiesBeforeTheManifest(), contract, s.silver_bucket, s.bronze_bucket, key, v1)
    assert s3.list_objects_v2(Bucket=s.silver_bucket, Prefix="silver/")["KeyCount"] == 1

    monkeypatch.setattr(moto.s3.models, "utcnow", lambda: dt.datetime(2026, 1, 6, 1, 0))
    v2 = put(s, key, GOOD_SHIPMENT)
    assert process_object(s3, contract, s.silver_bucket, s.bronze_bucket, key, v2).status == (
        "processed"
    )
    retry = process_object(s3, contract, s.silver_bucket, s.bronze_bucket, key, v1)
    assert retry.status == "stale"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=s.silver_bucket)["Contents"])
    assert keys == [
        index_key("shipments", pid),
        manifest_key("shipments", "2026-01-06", pid),
        silver_key("shipments", "2026-01-06", pid),
    ]
    assert [r["_source_version"] for r in read_silver(s, keys[2])] == [v2]


def test_an_empty_object_still_gets_a_manifest(mocked, transform):
    s = mocked.settings
    version = put(s, KEY, b"")
    transform(sqs_event(pointer(s, KEY, version)), Context())
    manifest = json.loads(boto3.client("s3").get_object(
        Bucket=s.silver_bucket, Key=manifest_key("shipments", "2026-01-05", part_id(s.bronze_bucket, KEY))
    )["Body"].read())  # fmt: skip
    assert (manifest["lines_in"], manifest["rows_out"], manifest["silver_key"]) == (0, 0, None)


def test_a_transient_s3_failure_fails_exactly_that_message(mocked, registry):
    s = mocked.settings
    real = boto3.client("s3")
    other = "bronze/shipments/dt=2026-01-05/ok.jsonl"
    bad_version = put(s, KEY, GOOD_SHIPMENT)
    ok_version = put(s, other, GOOD_SHIPMENT)

    class ThrottledS3:
        def __getattr__(self, name):
            return getattr(real, name)

        def get_object(self, **kwargs):
            if kwargs["Key"] == KEY:
                raise ClientError(
                    {"Error": {"Code": "SlowDown", "Message": "slow down"}}, "GetObject"
                )
            return real.get_object(**kwargs)

    handler = make_transform(Transformer(s, registry, ThrottledS3()))
    response = handler(
        sqs_event(pointer(s, other, ok_version), pointer(s, KEY, bad_version)), Context()
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert read_silver(s, silver_key("shipments", "2026-01-05", part_id(s.bronze_bucket, other)))


def test_bad_content_is_never_a_message_failure(mocked, transform):
    s = mocked.settings
    versions = [
        put(s, f"bronze/shipments/dt=2026-01-05/{i}.jsonl", body)
        for i, body in enumerate([b"\xff\xfe", b"[[[", b"null"])
    ]
    event = sqs_event(
        *(
            pointer(s, f"bronze/shipments/dt=2026-01-05/{i}.jsonl", v)
            for i, v in enumerate(versions)
        )
    )
    assert transform(event, Context()) == {"batchItemFailures": []}


def test_a_malformed_message_fails_alone(mocked, transform):
    s = mocked.settings
    version = put(s, KEY, GOOD_SHIPMENT)
    response = transform(sqs_event("not json", pointer(s, KEY, version)), Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


def test_a_deleted_object_is_skipped(mocked, transform):
    s = mocked.settings
    version = put(s, KEY, GOOD_SHIPMENT)
    boto3.client("s3").delete_object(Bucket=s.bronze_bucket, Key=KEY, VersionId=version)
    assert transform(sqs_event(pointer(s, KEY, version)), Context()) == {"batchItemFailures": []}
    assert "Contents" not in boto3.client("s3").list_objects_v2(
        Bucket=s.silver_bucket, Prefix="_manifests/"
    )


def test_the_module_level_entry_points_read_their_settings_on_first_call(mocked, monkeypatch):
    """What Lambda calls: `lambda_bridge.ingest.handler` and `lambda_bridge.transform.handler`."""
    import importlib

    for key, value in mocked.settings.as_env().items():
        monkeypatch.setenv(key, value)
    ingest_module = importlib.reload(importlib.import_module("lambda_bridge.ingest"))
    transform_module = importlib.reload(importlib.import_module("lambda_bridge.transform"))
    version = put(mocked.settings, KEY, GOOD_SHIPMENT)
    assert (
        ingest_module.handler(s3_event(mocked.settings.bronze_bucket, KEY, version), Context())[
            "enqueued"
        ]
        == 1
    )
    (message,) = queue_messages(mocked.settings)
    response = transform_module.handler(sqs_event(message["Body"]), Context())
    assert response == {"batchItemFailures": []}
    assert read_silver(
        mocked.settings,
        silver_key("shipments", "2026-01-05", part_id(mocked.settings.bronze_bucket, KEY)),
    )
