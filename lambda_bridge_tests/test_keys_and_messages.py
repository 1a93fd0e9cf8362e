import datetime as dt

import pytest

from lambda_bridge.exceptions import MessageError
from lambda_bridge.keys import (
    arrival_date,
    decode_event_key,
    dt_from_key,
    format_of_key,
    manifest_key,
    part_id,
    quarantine_key,
    silver_key,
)
from lambda_bridge.messages import Pointer


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
    import json

    assert json.loads(body) == {
        "v": 1, "dataset": "shipments", "bucket": "b", "key": "bronze/shipments/a b.jsonl",
        "version_id": "v1", "etag": "e", "size": 10, "dt": "2026-01-05",
    }  # fmt: skip
    assert (
        json.loads(Pointer("d", "b", "k", None, None, None, None, chunk=2).to_json())["chunk"] == 2
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [("not json", "not JSON"), ("[]", "JSON object"), ('{"v": 2}', "version"),
     ('{"v": 1, "dataset": "", "bucket": "b", "key": "k"}', "dataset")],
)  # fmt: skip
def test_malformed_messages_are_refused_clearly(body, problem):
    with pytest.raises(MessageError, match=problem):
        Pointer.from_json(body)
