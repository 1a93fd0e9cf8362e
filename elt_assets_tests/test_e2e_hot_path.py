"""The hot path end to end over a real moto server (HTTP), driven by the Lambda runner."""

import io
import json
import time

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from elt_assets.cli.local.runner import LambdaRunner
from elt_assets.cli.samples import generate
from elt_assets.lib.queues import queue_depths
from elt_assets.lib.state import summarise
from lambda_bridge.contracts import ContractRegistry
from lambda_bridge.keys import manifest_key, part_id

pytestmark = pytest.mark.e2e
REGISTRY = ContractRegistry.load()
DAY = "2026-01-05"


def manifest(stack, dataset: str, key: str) -> dict:
    s3 = stack.client("s3")
    body = s3.get_object(
        Bucket=stack.settings.silver_bucket,
        Key=manifest_key(dataset, DAY, part_id(stack.settings.bronze_bucket, key)),
    )["Body"].read()
    return json.loads(body)


def wait_for_messages(sqs, url: str, timeout: float = 20) -> list[dict]:
    """A moved message can take a moment to show on a loaded machine: poll, don't peek once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=1)
        if got.get("Messages"):
            return got["Messages"]
    return []


def test_files_in_silver_quarantine_and_manifests_out(stack, runner):
    s3 = stack.client("s3")
    uploads = []
    for seed, (dataset, fmt, gz) in enumerate(
        [("shipments", "jsonl", False), ("shipments", "json", True), ("tracking_events", "jsonl", True),
         ("tracking_events", "json", False), ("invoice_lines", "jsonl", False), ("invoice_lines", "json", False),
         ("transactions", "csv", False), ("transactions", "csv", True)]
    ):  # fmt: skip
        file = generate(dataset, fmt, 300, bad_ratio=0.03, seed=seed, compress=gz)
        key = f"bronze/{dataset}/dt={DAY}/file {seed}.{fmt}{'.gz' if gz else ''}"
        s3.put_object(Bucket=stack.settings.bronze_bucket, Key=key, Body=file.data)
        uploads.append((dataset, key, file))
    runner.drain(timeout=60)

    for dataset, key, file in uploads:
        m = manifest(stack, dataset, key)
        assert m["lines_in"] == 300 == m["rows_out"] + m["rows_quarantined"], key
        assert m["rows_quarantined"] == file.bad_total
        assert m["quarantine_by_code"] == dict(file.expected_codes())
        body = s3.get_object(Bucket=stack.settings.silver_bucket, Key=m["silver_key"])[
            "Body"
        ].read()
        table = pq.read_table(io.BytesIO(body))
        assert table.schema.remove_metadata() == REGISTRY[dataset].silver_schema
        assert table.num_rows == m["rows_out"]
        assert (
            pq.ParquetFile(io.BytesIO(body)).metadata.row_group(0).column(0).compression == "ZSTD"
        )
    for contract in REGISTRY:
        assert summarise(s3, stack.settings.silver_bucket, contract.name).conserved
    assert queue_depths(stack.client("sqs"), stack.settings.dlq_url)["visible"] == 0


def test_a_poison_file_is_quarantined_whole_not_retried(stack, runner):
    s3 = stack.client("s3")
    key = f"bronze/shipments/dt={DAY}/broken.jsonl.gz"
    s3.put_object(
        Bucket=stack.settings.bronze_bucket,
        Key=key,
        Body=generate("shipments", compress=True).data[:-30],
    )
    runner.drain(timeout=30)
    m = manifest(stack, "shipments", key)
    assert (m["lines_in"], m["rows_out"], m["quarantine_by_code"]) == (1, 0, {"decompress": 1})
    assert runner.stats.messages_failed == 0


def test_a_transient_failure_is_retried_after_the_visibility_timeout(stack):
    real = stack.client("s3")

    class FlakyS3:
        failures = 2

        def __getattr__(self, name):
            return getattr(real, name)

        def get_object(self, **kwargs):
            if kwargs["Bucket"] == stack.settings.bronze_bucket and FlakyS3.failures:
                FlakyS3.failures -= 1
                raise ClientError(
                    {"Error": {"Code": "SlowDown", "Message": "slow down"}}, "GetObject"
                )
            return real.get_object(**kwargs)

    runner = LambdaRunner(stack, visibility_timeout=1, s3_client=FlakyS3())
    key = f"bronze/shipments/dt={DAY}/flaky.jsonl"
    real.put_object(
        Bucket=stack.settings.bronze_bucket, Key=key, Body=generate("shipments", count=20).data
    )
    started = time.monotonic()
    runner.drain(timeout=30)
    assert manifest(stack, "shipments", key)["rows_out"] == 20
    assert runner.stats.messages_failed == 2 and runner.stats.messages_succeeded == 1
    assert time.monotonic() - started >= 2  # two visibility timeouts of 1 s


def test_a_message_that_keeps_failing_lands_in_the_dlq(stack):
    real = stack.client("s3")

    class DeniedS3:
        def __getattr__(self, name):
            return getattr(real, name)

        def get_object(self, **kwargs):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetObject")

    runner = LambdaRunner(stack, visibility_timeout=1, s3_client=DeniedS3())
    key = f"bronze/shipments/dt={DAY}/denied.jsonl"
    real.put_object(
        Bucket=stack.settings.bronze_bucket, Key=key, Body=generate("shipments", count=5).data
    )
    runner.drain(timeout=60)
    dlq = wait_for_messages(stack.client("sqs"), stack.settings.dlq_url)
    assert [json.loads(m["Body"])["key"] for m in dlq] == [key]
    assert int(dlq[0]["Attributes"]["ApproximateReceiveCount"]) >= 5
    assert runner.stats.messages_failed == 5


def test_an_ingest_that_keeps_failing_goes_to_its_on_failure_destination(stack):
    runner = LambdaRunner(stack, ingest_retry_delay=1)
    runner.ingest = lambda event, context: (_ for _ in ()).throw(RuntimeError("ingest is down"))
    stack.client("s3").put_object(
        Bucket=stack.settings.bronze_bucket, Key="bronze/shipments/x.jsonl", Body=b"{}"
    )
    runner.drain(timeout=30)
    assert runner.stats.ingest_errors == 3 and runner.stats.ingest_dead_lettered == 1
    assert queue_depths(stack.client("sqs"), stack.ingest_failures_queue_url)["visible"] == 1


def test_the_same_object_uploaded_twice_keeps_one_copy_of_its_rows(stack, runner):
    s3 = stack.client("s3")
    key = f"bronze/invoice_lines/dt={DAY}/again.jsonl"
    data = generate("invoice_lines", count=50, seed=5).data
    for _ in range(2):
        s3.put_object(Bucket=stack.settings.bronze_bucket, Key=key, Body=data)
        runner.drain(timeout=30)
    summary = summarise(s3, stack.settings.silver_bucket, "invoice_lines")
    assert (summary.objects, summary.silver_rows) == (1, 50)
