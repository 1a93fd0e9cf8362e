import datetime as dt
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambda_bridge.chunks import Chunk
from lambda_bridge.exceptions import MessageError
from lambda_bridge.keys import (
    arrival_date,
    decode_event_key,
    dt_from_key,
    format_of_key,
    gold_summary_key,
    index_key,
    manifest_key,
    manifest_prefix,
    part_id,
    quarantine_key,
    report_prefix,
    silver_key,
)
from lambda_bridge.messages import Pointer
from lambda_bridge.storage import is_missing, read_json


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("bronze/shipments/a+b.jsonl", "bronze/shipments/a b.jsonl"),
        ("bronze/shipments/a%2Bb.jsonl", "bronze/shipments/a+b.jsonl"),
        ("bronze/shipments/dt%3D2026-01-05/x.jsonl", "bronze/shipments/dt=2026-01-05/x.jsonl"),
        ("bronze/shipments/caf%C3%A9%3A1.json", "bronze/shipments/café:1.json"),
    ],
)
def test_event_keys_are_url_decoded_once(raw, decoded):
    assert decode_event_key(raw) == decoded


def test_dt_comes_from_the_key_when_present():
    assert dt_from_key("bronze/shipments/dt=2026-01-05/a.jsonl") == "2026-01-05"
    assert dt_from_key("bronze/shipments/dt=2026-02-30/a.jsonl") is None
    assert dt_from_key("bronze/shipments/a.jsonl") is None


def test_arrival_date_falls_back_to_last_modified_in_utc():
    late_evening_in_new_york = dt.datetime(
        2026, 1, 5, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))
    )
    assert arrival_date("bronze/shipments/a.jsonl", late_evening_in_new_york) == "2026-01-06"
    assert (
        arrival_date("bronze/shipments/dt=2026-01-01/a.jsonl", late_evening_in_new_york)
        == "2026-01-01"
    )


def test_part_id_depends_only_on_bucket_key_and_chunk():
    a = part_id("bronze", "bronze/shipments/a.jsonl")
    assert a == part_id("bronze", "bronze/shipments/a.jsonl")
    assert a != part_id("bronze", "bronze/shipments/b.jsonl")
    assert a != part_id("other", "bronze/shipments/a.jsonl")
    assert a != part_id("bronze", "bronze/shipments/a.jsonl", chunk=1)


def test_output_keys_follow_the_storage_contract():
    assert (
        silver_key("shipments", "2026-01-05", "abc")
        == "silver/shipments/dt=2026-01-05/part-abc.parquet"
    )
    assert (
        quarantine_key("shipments", "2026-01-05", "abc")
        == "quarantine/shipments/dt=2026-01-05/part-abc.jsonl"
    )
    assert (
        manifest_key("shipments", "2026-01-05", "abc")
        == "_manifests/shipments/dt=2026-01-05/part-abc.json"
    )
    assert index_key("shipments", "abc") == "_index/shipments/part-abc.json"
    assert manifest_prefix("shipments") == "_manifests/shipments/"
    assert manifest_prefix("shipments", "2026-01-05") == "_manifests/shipments/dt=2026-01-05/"
    assert manifest_key("shipments", "2026-01-05", "abc").startswith(
        manifest_prefix("shipments", "2026-01-05")
    )
    assert (
        gold_summary_key("shipments_daily", "2026-01-05")
        == "gold/shipments_daily/dt=2026-01-05/summary.json"
    )
    assert report_prefix("2026-01-05") == "reports/2026-01-05/"


@pytest.mark.parametrize(
    ("key", "fmt"),
    [("a/b.jsonl", "jsonl"), ("a/b.ndjson", "jsonl"), ("a/b.JSON", "json"), ("a/b.csv.gz", "csv"),
     ("a/b.jsonl.gz", "jsonl"), ("a/b.txt", None), ("a/b", None)],
)  # fmt: skip
def test_format_from_extension(key, fmt):
    assert format_of_key(key) == fmt


def test_pointer_messages_round_trip_and_match_the_contract():
    pointer = Pointer("shipments", "b", "bronze/shipments/a b.jsonl", "v1", "e", 10, "2026-01-05")
    body = pointer.to_json()
    assert Pointer.from_json(body) == pointer
    assert json.loads(body) == {
        "v": 1, "dataset": "shipments", "bucket": "b", "key": "bronze/shipments/a b.jsonl",
        "version_id": "v1", "etag": "e", "size": 10, "dt": "2026-01-05",
    }  # fmt: skip
    chunked = Pointer("d", "b", "k", None, None, 300, None, chunk=Chunk(2, 200, 300, 3))
    assert json.loads(chunked.to_json())["chunk"] == {
        "index": 2,
        "start": 200,
        "end": 300,
        "count": 3,
    }
    assert Pointer.from_json(chunked.to_json()) == chunked


@pytest.mark.parametrize(
    ("body", "problem"),
    [("not json", "not JSON"), ("[]", "JSON object"), ('{"v": 2}', "version"),
     ('{"v": 1, "dataset": "", "bucket": "b", "key": "k"}', "dataset")],
)  # fmt: skip
def test_malformed_messages_are_refused_clearly(body, problem):
    with pytest.raises(MessageError, match=problem):
        Pointer.from_json(body)


@pytest.mark.parametrize(
    ("body", "problem"),
    [('{"dataset": "d", "bucket": "b", "key": "k"}', "version (field 'v'"),
     ('{"v": "1", "dataset": "d", "bucket": "b", "key": "k"}', "version (field 'v'"),
     ('{"v": 1, "dataset": "d", "bucket": "b"}', "field 'key': Object missing required field"),
     ('{"v": 1, "dataset": "d", "bucket": "b", "key": "k", "size": "10"}', "field 'size'"),
     ('{"v": 1, "dataset": "d", "bucket": 7, "key": "k"}', "field 'bucket'")],
)  # fmt: skip
def test_message_errors_name_the_field(body, problem):
    with pytest.raises(MessageError) as info:
        Pointer.from_json(body)
    assert problem in str(info.value)


def test_the_wire_format_is_compact_sorted_ascii_and_omits_an_absent_chunk():
    body = Pointer("d", "b", "bronze/d/caf\u00e9\ufffe.jsonl", None, "", None, None).to_json()
    assert body == (
        '{"bucket":"b","dataset":"d","dt":null,"etag":"","key":"bronze/d/caf\\u00e9\\ufffe.jsonl",'
        '"size":null,"v":1,"version_id":null}'
    )
    assert Pointer.from_json(body).etag is None  # empty means none, as ingest writes it


def test_read_json_is_none_for_a_missing_object_and_raises_otherwise(aws_env):
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bucket")
        s3.put_object(Bucket="bucket", Key="k.json", Body=json.dumps({"a": 1}).encode())
        assert read_json(s3, "bucket", "k.json") == {"a": 1}
        assert read_json(s3, "bucket", "missing.json") is None
        with pytest.raises(ClientError):
            read_json(s3, "no-such-bucket", "k.json")


@pytest.mark.parametrize(
    ("code", "missing"),
    [("NoSuchKey", True), ("NoSuchVersion", True), ("404", True), ("NotFound", True),
     ("403", False), ("SlowDown", False), ("NoSuchBucket", False)],
)  # fmt: skip
def test_is_missing_knows_every_way_s3_says_an_object_is_not_there(code, missing):
    assert is_missing(ClientError({"Error": {"Code": code}}, "GetObject")) is missing
