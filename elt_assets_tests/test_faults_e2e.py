"""Faults end to end on the embedded stack (a real moto server over HTTP, the Lambda runner).

Each test ends with record conservation read back from the silver bucket: every input line in
silver or quarantine exactly once, and one manifest per object that agrees with the files.
"""

import datetime as dt
import threading
import time

import pytest

from elt_assets.cli.local.runner import LambdaRunner
from elt_assets.cli.samples import generate
from elt_assets.lib.queues import queue_depths
from lambda_bridge.messages import Pointer
from lambda_bridge_tests.conservation import assert_conserved

pytestmark = pytest.mark.e2e
DATASET = "shipments"
DAY = "2026-01-05"


def upload(stack, names: list[str], seed: int = 0) -> dict[str, tuple[bytes, str]]:
    """JSONL shipments files with about 10 % bad lines; bronze key -> (bytes, version id)."""
    s3 = stack.client("s3")
    inputs = {}
    for i, name in enumerate(names):
        data = generate(
            DATASET, "jsonl", 30, bad_ratio=0.1, seed=seed + i, day=dt.date.fromisoformat(DAY)
        ).data
        key = f"bronze/{DATASET}/dt={DAY}/{name}.jsonl"
        version = s3.put_object(Bucket=stack.settings.bronze_bucket, Key=key, Body=data)[
            "VersionId"
        ]
        inputs[key] = (data, version)
    return inputs


def dead_letters(stack, timeout: float = 20) -> list[dict]:
    """Everything in the DLQ, polling: SQS moves a message there on the receive after the last."""
    sqs, url, out = stack.client("sqs"), stack.settings.dlq_url, []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=1
        ).get("Messages", [])
        out.extend(got)
        if out and not got:
            break
    return out


def test_a_runner_stopped_mid_batch_leaves_its_messages_to_the_next_runner(stack, registry):
    """The runner is stopped while it holds a batch (received, two objects done, nothing
    deleted). A new runner on the same stack gets every message back after the visibility
    timeout and processes all of them: every object once, no line lost or doubled."""
    inputs = upload(stack, [f"in-flight-{i}" for i in range(6)], seed=100)
    first = LambdaRunner(stack, visibility_timeout=2)
    transform = first.transform
    holding, stopping = threading.Event(), threading.Event()
    held: list[str] = []

    def cut_off(event, context):
        held.extend(r["messageId"] for r in event["Records"])
        transform({"Records": event["Records"][:2]}, context)  # two objects written...
        holding.set()
        assert stopping.wait(10)
        raise RuntimeError("runner stopped mid-batch")  # ...and no response: nothing deleted

    first.transform = cut_off
    first.start()
    try:
        assert holding.wait(30)
        first._stop.set()  # the stop request reaches the runner while the batch is in its hands
        stopping.set()
    finally:
        first.stop()
    depths = queue_depths(stack.client("sqs"), stack.settings.queue_url)
    assert len(held) > 2 and depths["visible"] + depths["in_flight"] == 6  # none deleted
    assert first.stats.messages_succeeded == 0

    second = LambdaRunner(stack, visibility_timeout=1)
    second.drain(timeout=30)

    assert (second.stats.messages_succeeded, second.stats.messages_failed) == (6, 0)
    assert queue_depths(stack.client("sqs"), stack.settings.dlq_url)["visible"] == 0
    assert_conserved(stack.client("s3"), stack.settings.silver_bucket, registry[DATASET], inputs)


def test_a_batch_with_poison_messages_reports_exactly_their_ids(stack, registry):
    """One batch: three good objects, one whose object is gone (skipped, not a failure), and
    two messages no retry can fix. The partial batch response names exactly those two; the
    rest is deleted and conserved, and only the two end in the DLQ."""
    sqs = stack.client("sqs")
    poison = {
        sqs.send_message(QueueUrl=stack.settings.queue_url, MessageBody=body)["MessageId"]: body
        for body in (
            "{not json",
            Pointer(
                "no_such_dataset",
                stack.settings.bronze_bucket,
                "bronze/x/a.jsonl",
                None,
                None,
                None,
                DAY,
            ).to_json(),
        )
    }
    inputs = upload(stack, ["good-0", "good-1", "good-2"], seed=200)
    gone = upload(stack, ["gone"], seed=300)
    ((gone_key, (_, gone_version)),) = gone.items()
    stack.client("s3").delete_object(
        Bucket=stack.settings.bronze_bucket, Key=gone_key, VersionId=gone_version
    )

    runner = LambdaRunner(stack, visibility_timeout=1)
    transform = runner.transform
    batches: list[tuple[list[str], dict]] = []

    def recorded(event, context):
        response = transform(event, context)
        batches.append(([r["messageId"] for r in event["Records"]], response))
        return response

    runner.transform = recorded
    runner.run_once()  # ingests the four objects, then delivers one batch of all six messages

    ((ids, response),) = batches
    assert len(ids) == 6 and set(poison) <= set(ids)
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(poison)
    depths = queue_depths(sqs, stack.settings.queue_url)
    assert depths["visible"] + depths["in_flight"] == 2  # the four others were deleted
    assert_conserved(stack.client("s3"), stack.settings.silver_bucket, registry[DATASET], inputs)

    runner.drain(timeout=60)  # the two fail on every receive until SQS dead-letters them
    assert sorted(m["Body"] for m in dead_letters(stack)) == sorted(poison.values())
    assert all(f["itemIdentifier"] in poison for _, r in batches for f in r["batchItemFailures"])
    assert_conserved(stack.client("s3"), stack.settings.silver_bucket, registry[DATASET], inputs)


def test_two_runners_at_once_process_every_object_once(stack, registry):
    """Lambda runs several environments at once: two runners poll the same queues together
    (concurrent ingests of the notifications, concurrent batches); each object lands once."""
    inputs = upload(stack, [f"together-{i}" for i in range(12)], seed=400)
    runners = [LambdaRunner(stack, visibility_timeout=5, batch_size=2) for _ in range(2)]
    for runner in runners:
        runner.start()
    try:
        runners[0].drain(timeout=60)
    finally:
        for runner in runners:
            runner.stop()
    assert sum(r.stats.messages_failed for r in runners) == 0
    assert sum(r.stats.messages_succeeded for r in runners) >= 12
    assert_conserved(stack.client("s3"), stack.settings.silver_bucket, registry[DATASET], inputs)
