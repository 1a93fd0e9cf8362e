"""Kinesis to bronze (DESIGN §11): records put on a stream become gzip JSONL objects under
`bronze/<dataset>/dt=<day>/`, and every record put ends in silver or quarantine exactly once."""

import datetime as dt
import gzip

import boto3
import pytest
from moto import mock_aws

from elt_assets.cli.local.firehose import FirehoseEmulator, put_records
from elt_assets.lib.state import summarise
from elt_assets_tests.test_cli import point_at, process_state_kept, run


@pytest.fixture
def kinesis_s3(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        kinesis, s3 = boto3.client("kinesis"), boto3.client("s3")
        kinesis.create_stream(StreamName="s", ShardCount=2)
        s3.create_bucket(Bucket="bronze")
        yield kinesis, s3


def bronze_objects(s3, bucket: str, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_firehose_flushes_by_size_mid_burst_and_by_age_after_it(kinesis_s3):
    kinesis, s3 = kinesis_s3
    now = [0.0]
    firehose = FirehoseEmulator(
        kinesis, s3, "bronze", {"tracking_events": "s"},
        buffer_bytes=1000, buffer_seconds=60, clock=lambda: now[0],
    )  # fmt: skip
    lines = [b'{"n": %d, "pad": "%s"}' % (i, b"x" * 80) for i in range(40)]
    assert put_records(kinesis, "s", lines) == 40
    firehose.poll()
    full = bronze_objects(s3, "bronze", "bronze/tracking_events/")
    # The size limit cut the burst: full objects now, the rest waits for the interval.
    assert len(full) >= 3 and firehose.pending() > 0
    assert all(len(gzip.decompress(body)) <= 1000 for body in full.values())
    now[0] += 61
    firehose.poll()
    everything = bronze_objects(s3, "bronze", "bronze/tracking_events/")
    assert firehose.pending() == 0 and len(everything) == len(full) + 1
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert all(k.startswith(f"bronze/tracking_events/dt={today}/") and k.endswith(".jsonl.gz")
               for k in everything)  # fmt: skip
    delivered = b"".join(gzip.decompress(b) for b in everything.values()).splitlines()
    assert sorted(delivered) == sorted(lines)  # every record once, none split


@pytest.mark.e2e
def test_records_put_on_the_stream_end_in_silver_or_quarantine_exactly_once(
    stack, monkeypatch, tmp_path
):
    from elt_assets.cli.local.runner import LambdaRunner

    with process_state_kept():
        point_at(stack, monkeypatch, tmp_path)
        runner = LambdaRunner(stack, visibility_timeout=1, ingest_retry_delay=1)
        runner.firehose.buffer_bytes = 64 * 1024  # several objects in one burst
        runner.firehose.buffer_seconds = 1
        runner.start()
        try:
            code, out, err = run("stream", "put", "--dataset", "tracking_events", "--count",
                                 "3000", "--bad-ratio", "0.01", "--seed", "5")  # fmt: skip
            assert code == 0, err
            assert "put 3,000 records" in out
            # A record that is not JSON at all, straight from a producer.
            streams = stack.settings.stream_names()
            put_records(stack.client("kinesis"), streams["tracking_events"], [b"{not json"])
            runner.drain(timeout=180)
        finally:
            runner.stop()
        code, _, err = run("stream", "put", "--dataset", "shipments", "--count", "1")
        assert code == 2 and "no stream for shipments (streams: tracking_events)" in err
    s3 = stack.client("s3")
    objects = s3.list_objects_v2(
        Bucket=stack.settings.bronze_bucket, Prefix="bronze/tracking_events/"
    )["Contents"]
    assert len(objects) >= 3 and all(o["Key"].endswith(".jsonl.gz") for o in objects)
    summary = summarise(s3, stack.settings.silver_bucket, "tracking_events")
    assert summary.objects == len(objects)
    assert summary.lines_in == 3001 and summary.conserved
    assert summary.rows_out + summary.rows_quarantined == 3001
    assert summary.by_code["json_decode"] >= 1 and summary.rows_quarantined >= 31
