import collections
import itertools
import json

import boto3
import pytest
from moto import mock_aws

from elt_assets.lib.redrive import redrive

N = 25
_names = (f"redrive-{i}" for i in itertools.count())


@pytest.fixture
def sqs(server_stack):
    # The suite's shared moto server; queues get unique names below (moto servers in one
    # process share their backends, so a second server would not isolate anything).
    return server_stack.client("sqs")


def _pointer(i: int) -> str:
    return json.dumps(
        {"v": 1, "dataset": "shipments", "bucket": "b", "key": f"bronze/shipments/{i}.jsonl"}
    )


def _attributes(i: int) -> dict:
    # Every third message carries attributes, of each data type SQS has.
    if i % 3:
        return {}
    return {
        "dataset": {"DataType": "String", "StringValue": "shipments"},
        "attempt": {"DataType": "Number", "StringValue": str(i)},
        "trace": {"DataType": "Binary", "BinaryValue": bytes([i, 0, 255])},
    }


@pytest.fixture
def queues(sqs):
    """A fresh DLQ holding N distinct messages, and an empty events queue."""
    name = next(_names)
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    for i in range(N):
        extra = {"MessageAttributes": _attributes(i)} if _attributes(i) else {}
        sqs.send_message(QueueUrl=dlq, MessageBody=_pointer(i), **extra)
    return dlq, queue


def _drain(sqs, url: str) -> list[dict]:
    """Every message of a queue (left invisible, so each is returned once)."""
    out = []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=600,
        MessageAttributeNames=["All"],
        AttributeNames=["All"],
    ).get("Messages"):
        out.extend(batch)
    return out


def _depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _values(attributes: dict) -> dict:
    return {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in (attributes or {}).items()
    }


def test_redrive_moves_every_message_exactly_once_with_its_attributes(sqs, queues):
    dlq, queue = queues

    result = redrive(sqs, dlq, queue)

    assert (result.method, result.seen, result.moved, result.failed) == (
        "receive_send_delete",
        N,
        N,
        0,
    )
    assert result.errors == []
    # moto's server has no StartMessageMoveTask, so the task was tried and refused.
    assert result.fallback_reason is not None
    moved = _drain(sqs, queue)
    assert collections.Counter(m["Body"] for m in moved) == collections.Counter(
        _pointer(i) for i in range(N)
    )
    by_body = {m["Body"]: m for m in moved}
    for i in range(N):
        assert _values(by_body[_pointer(i)].get("MessageAttributes")) == _attributes(i)
    assert _depth(sqs, dlq) == 0


def test_max_messages_moves_exactly_that_many(sqs, queues):
    dlq, queue = queues

    result = redrive(sqs, dlq, queue, max_messages=7)

    assert (result.method, result.seen, result.moved, result.failed) == (
        "receive_send_delete",
        7,
        7,
        0,
    )
    moved = {m["Body"] for m in _drain(sqs, queue)}
    left = {m["Body"] for m in _drain(sqs, dlq)}
    assert (len(moved), len(left)) == (7, N - 7)
    assert moved | left == {_pointer(i) for i in range(N)}


def test_max_messages_zero_moves_nothing(sqs, queues):
    dlq, queue = queues

    result = redrive(sqs, dlq, queue, max_messages=0)

    assert (result.seen, result.moved) == (0, 0)
    assert (_depth(sqs, dlq), _depth(sqs, queue)) == (N, 0)


def test_dry_run_reports_the_depth_and_touches_nothing(sqs, queues):
    dlq, queue = queues

    result = redrive(sqs, dlq, queue, dry_run=True)

    assert (result.method, result.seen, result.moved, result.failed) == ("dry_run", N, 0, 0)
    assert _depth(sqs, queue) == 0
    left = _drain(sqs, dlq)
    assert len(left) == N
    # Nothing was received by the dry run: this drain is every message's first receive.
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in left} == {"1"}


class _FailOneSend:
    """An SQS client whose send_message_batch reports one chosen body as Failed."""

    def __init__(self, client, body: str) -> None:
        self._client = client
        self._body = body

    def __getattr__(self, name):
        return getattr(self._client, name)

    def send_message_batch(self, QueueUrl, Entries):
        doomed = [e for e in Entries if e["MessageBody"] == self._body]
        rest = [e for e in Entries if e["MessageBody"] != self._body]
        response = (
            self._client.send_message_batch(QueueUrl=QueueUrl, Entries=rest)
            if rest
            else {"Successful": []}
        )
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
            for e in doomed
        ]
        return {**response, "Failed": [*response.get("Failed", []), *failed]}


def test_a_failed_send_leaves_the_message_in_the_dlq_and_not_in_the_queue(sqs, queues):
    dlq, queue = queues
    doomed = _pointer(13)

    result = redrive(_FailOneSend(sqs, doomed), dlq, queue)

    assert (result.seen, result.moved, result.failed) == (N, N - 1, 1)
    assert len(result.errors) == 1 and "injected" in result.errors[0]
    moved = [m["Body"] for m in _drain(sqs, queue)]
    assert sorted(moved) == sorted(_pointer(i) for i in range(N) if i != 13)
    # Visible again at once, not after the visibility timeout, so the next run retries it.
    left = _drain(sqs, dlq)
    assert [m["Body"] for m in left] == [doomed]


def test_a_rejected_batch_moves_nothing_and_deletes_nothing(sqs, queues):
    dlq, queue = queues

    class Refusing(_FailOneSend):
        def send_message_batch(self, QueueUrl, Entries):
            return self._client.send_message_batch(QueueUrl=QueueUrl + "-missing", Entries=Entries)

    result = redrive(Refusing(sqs, ""), dlq, queue)

    assert (result.moved, result.failed) == (0, N)
    assert len(result.errors) == N
    assert (_depth(sqs, queue), len(_drain(sqs, dlq))) == (0, N)


def test_fifo_queues_keep_message_groups_with_fresh_deduplication_ids(sqs):
    name = next(_names)
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    dlq = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes=fifo)["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"{name}-events.fifo", Attributes=fifo)["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=dlq, MessageBody=_pointer(i), MessageGroupId=f"g{i % 2}")

    result = redrive(sqs, dlq, queue, max_messages=5)

    assert (result.moved, result.failed) == (5, 0)
    moved = _drain(sqs, queue)
    groups = {m["Body"]: m["Attributes"]["MessageGroupId"] for m in moved}
    assert groups == {_pointer(i): f"g{i % 2}" for i in range(5)}
    # AWS drops a message whose deduplication id was seen in the last 5 minutes, even after
    # the first was deleted (moto does not model that): the original's id (here the body
    # hash) would make the copy of a message that just failed vanish.
    assert all(m["Attributes"]["MessageDeduplicationId"].startswith("redrive-") for m in moved)


class _MoveTaskSqs:
    """A stub of the SQS calls a move task needs, recording what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def get_queue_attributes(self, QueueUrl, AttributeNames):
        self.calls.append(("get_queue_attributes", {"QueueUrl": QueueUrl}))
        name = QueueUrl.rsplit("/", 1)[-1]
        return {
            "Attributes": {
                "QueueArn": f"arn:aws:sqs:us-east-1:123456789012:{name}",
                "ApproximateNumberOfMessages": "42",
            }
        }

    def start_message_move_task(self, **kwargs):
        self.calls.append(("start_message_move_task", kwargs))
        return {"TaskHandle": "handle-1"}

    def receive_message(self, **kwargs):
        pytest.fail("a move task must not receive messages")


def test_the_move_task_is_used_where_the_endpoint_has_it():
    sqs = _MoveTaskSqs()

    result = redrive(sqs, "https://sqs/123/events-dlq", "https://sqs/123/events")

    assert (result.method, result.seen, result.moved, result.task_handle) == (
        "move_task",
        42,
        42,
        "handle-1",
    )
    starts = [kwargs for name, kwargs in sqs.calls if name == "start_message_move_task"]
    assert starts == [
        {
            "SourceArn": "arn:aws:sqs:us-east-1:123456789012:events-dlq",
            "DestinationArn": "arn:aws:sqs:us-east-1:123456789012:events",
        }
    ]


def test_a_count_limit_or_an_opt_out_never_uses_the_move_task():
    sqs = _MoveTaskSqs()
    sqs.receive_message = lambda **kwargs: {}

    assert redrive(sqs, "u/dlq", "u/q", max_messages=3).method == "receive_send_delete"
    assert redrive(sqs, "u/dlq", "u/q", use_move_task=False).method == "receive_send_delete"
    assert not [name for name, _ in sqs.calls if name == "start_message_move_task"]


def test_in_process_moto_falls_back_from_not_implemented():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        queue = sqs.create_queue(QueueName="events")["QueueUrl"]
        for i in range(3):
            sqs.send_message(QueueUrl=dlq, MessageBody=_pointer(i))

        result = redrive(sqs, dlq, queue, wait_time_seconds=0)

        assert (result.method, result.moved) == ("receive_send_delete", 3)
        assert "not implemented" in result.fallback_reason
        assert len(_drain(sqs, queue)) == 3


def test_a_negative_limit_is_refused(sqs):
    with pytest.raises(ValueError, match="-1"):
        redrive(sqs, "dlq", "queue", max_messages=-1)


def test_moto_lacking_the_move_task_prints_no_traceback(stack, caplog):
    # A fresh endpoint object, so the move task is tried (and refused) again here.
    from elt_assets.lib import redrive as redrive_module

    redrive_module._endpoints_without_move_task.discard(stack.endpoint)
    sqs = stack.client("sqs")
    result = redrive(sqs, stack.settings.dlq_url, stack.settings.queue_url)
    assert result.method == "receive_send_delete"
    assert result.fallback_reason == (
        f"{stack.endpoint} does not implement StartMessageMoveTask (HTTP 500)"
    )
    # werkzeug logs the server's traceback; in a terminal it goes to stderr, here to caplog.
    logged = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert not [m for m in logged if "Traceback" in m or "has not been implemented" in m]
