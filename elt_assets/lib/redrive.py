"""Move messages from the dead-letter queue back to the events queue.

Two ways: SQS `StartMessageMoveTask` (AWS moves the messages itself, asynchronously), and a
receive → send → delete loop for endpoints without it (moto) or when only some messages should
move. The loop never deletes a message from the DLQ before its copy has been sent, so a crash
at any point can duplicate a message (the transform is idempotent) but never lose one.
"""

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from elt_assets.lib.queues import SQS_BATCH_MAX, delete_messages

logger = logging.getLogger(__name__)

# Error codes meaning "this endpoint does not have the operation" rather than "this call
# failed": the answer will not change, so it is remembered per endpoint for the process.
_UNSUPPORTED_CODES = frozenset({"InvalidAction", "UnknownOperationException", "NotImplemented"})
_UNSUPPORTED_STATUS = frozenset({404, 405, 501})
_endpoints_without_move_task: set[str] = set()


@dataclass
class RedriveResult:
    """What a redrive did.

    Attributes:
        method: `move_task`, `receive_send_delete` or `dry_run`.
        seen: Messages looked at (for a dry run or a move task: the DLQ's approximate depth).
        moved: Messages sent to the queue and deleted from the DLQ (for a move task: the
            DLQ's approximate depth when the task started; the task runs on after return).
        failed: Messages that could not be sent; they stay in the DLQ.
        task_handle: The move task's handle, to follow it with `list_message_move_tasks`.
        errors: One line per failed message or failed delete.
        fallback_reason: Why the move task was not used, when it was tried and refused.
    """

    method: str
    seen: int = 0
    moved: int = 0
    failed: int = 0
    task_handle: str | None = None
    errors: list[str] = field(default_factory=list)
    fallback_reason: str | None = None


def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    *,
    max_messages: int | None = None,
    dry_run: bool = False,
    visibility_timeout: int = 60,
    wait_time_seconds: int = 1,
    use_move_task: bool = True,
) -> RedriveResult:
    """Move DLQ messages back to the events queue.

    Args:
        sqs: A boto3 SQS client.
        dlq_url: The dead-letter queue to drain.
        queue_url: The queue to send the messages to.
        max_messages: Move at most this many (always by receive → send → delete, since a move
            task cannot be limited to a count); None moves all.
        dry_run: Only report the DLQ's depth. Nothing is received, so receive counts stay.
        visibility_timeout: Seconds a received message stays hidden from other consumers
            while its copy is sent; a message whose copy failed is made visible again at the end.
        wait_time_seconds: Long-poll time of each receive. Short polls sample only some SQS
            servers and can come back empty while messages remain, which would end the loop
            early.
        use_move_task: Try StartMessageMoveTask first (when moving all messages).

    Returns:
        The counts, and for a move task its handle.

    Raises:
        ValueError: `max_messages` is negative.
        botocore.exceptions.ClientError: a queue does not exist or cannot be read.
    """
    if max_messages is not None and max_messages < 0:
        msg = f"max_messages must be >= 0, got {max_messages}"
        raise ValueError(msg)
    if dry_run:
        return RedriveResult(method="dry_run", seen=_depth(sqs, dlq_url))

    fallback_reason = None
    if max_messages is None and use_move_task:
        result, fallback_reason = _try_move_task(sqs, dlq_url, queue_url)
        if result is not None:
            return result
    result = _receive_send_delete(
        sqs, dlq_url, queue_url, max_messages, visibility_timeout, wait_time_seconds
    )
    result.fallback_reason = fallback_reason
    return result


def _try_move_task(sqs: Any, dlq_url: str, queue_url: str) -> tuple[RedriveResult | None, str]:
    endpoint = getattr(getattr(sqs, "meta", None), "endpoint_url", None)
    if endpoint and endpoint in _endpoints_without_move_task:
        return None, f"{endpoint} does not support StartMessageMoveTask"
    depth = _depth(sqs, dlq_url)
    try:
        response = sqs.start_message_move_task(
            SourceArn=_arn(sqs, dlq_url), DestinationArn=_arn(sqs, queue_url)
        )
    except NotImplementedError as exc:
        # moto in-process (mock_aws) raises this from the call itself; it costs nothing to
        # ask again, and its endpoint is AWS's own, so it is not remembered.
        return None, f"StartMessageMoveTask is not implemented: {exc}"
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # moto's server answers with an HTML 500 page, which botocore reports as code "500":
        # an AWS endpoint always names its error, so a bare number means a stand-in.
        unsupported = code in _UNSUPPORTED_CODES or status in _UNSUPPORTED_STATUS
        if endpoint and (unsupported or code.isdigit()):
            _endpoints_without_move_task.add(endpoint)
        # Anything else (a DLQ no queue points at, a task already running, no permission) is
        # also a reason to move by hand: that path needs only receive/send/delete rights.
        if code.isdigit():
            reason = f"{endpoint} does not implement StartMessageMoveTask (HTTP {code})"
        else:
            text = " ".join(re.sub(r"<[^>]+>", " ", str(error.get("Message") or exc)).split())
            reason = f"StartMessageMoveTask failed ({code or status}): {text[:200]}"
        logger.warning("%s; moving messages by receive -> send -> delete", reason)
        return None, reason
    return (
        RedriveResult(
            method="move_task", seen=depth, moved=depth, task_handle=response.get("TaskHandle")
        ),
        "",
    )


def _receive_send_delete(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    max_messages: int | None,
    visibility_timeout: int,
    wait_time_seconds: int,
) -> RedriveResult:
    result = RedriveResult(method="receive_send_delete")
    fifo = queue_url.endswith(".fifo")
    failed_ids: set[str] = set()
    to_release: dict[str, str] = {}
    while max_messages is None or result.seen < max_messages:
        batch_size = SQS_BATCH_MAX
        if max_messages is not None:
            batch_size = min(SQS_BATCH_MAX, max_messages - result.seen)
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=batch_size,
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=wait_time_seconds,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        # A message whose copy (or whose delete) failed earlier in this run comes back once its
        # visibility timeout runs out: retrying it within one run would loop (re-sending it
        # each time), so it waits for the next.
        fresh = [m for m in messages if m["MessageId"] not in failed_ids]
        for message in messages:
            if message["MessageId"] in failed_ids:
                to_release[message["MessageId"]] = message["ReceiptHandle"]
        if not fresh:
            break
        result.seen += len(fresh)
        sent, failures = _send(sqs, queue_url, fresh, fifo)
        for message, error in failures:
            result.failed += 1
            result.errors.append(f"send {message['MessageId']}: {error}")
            failed_ids.add(message["MessageId"])
            to_release[message["MessageId"]] = message["ReceiptHandle"]
        result.moved += len(sent)
        undeleted, errors = _delete(sqs, dlq_url, sent)
        failed_ids.update(undeleted)
        result.errors.extend(errors)
    # Visible again now, not after visibility_timeout, so the next run (or the next sensor
    # tick) sees them; kept hidden until here so this run does not pick them up again.
    result.errors.extend(_release(sqs, dlq_url, to_release))
    return result


def _send(
    sqs: Any, queue_url: str, messages: list[dict[str, Any]], fifo: bool
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    entries = []
    for index, message in enumerate(messages):
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
        attributes = _sendable_attributes(message.get("MessageAttributes") or {})
        if attributes:
            entry["MessageAttributes"] = attributes
        system = message.get("Attributes") or {}
        if fifo and system.get("MessageGroupId"):
            entry["MessageGroupId"] = system["MessageGroupId"]
            # Not the original deduplication id: within SQS's 5-minute window the queue would
            # take the copy for the original, report it sent, and drop it. The DLQ message id
            # is new to the queue, yet the same if a crashed run re-sends this message.
            entry["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"
        entries.append(entry)
    try:
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        text = f"{error.get('Code')}: {error.get('Message')}"
        return [], [(message, text) for message in messages]
    errors = {
        f["Id"]: f"{f.get('Code')}: {f.get('Message', '')}" for f in response.get("Failed", [])
    }
    succeeded = {s["Id"] for s in response.get("Successful", [])}
    sent, failures = [], []
    for index, message in enumerate(messages):
        key = str(index)
        if key in succeeded and key not in errors:
            sent.append(message)
        else:
            # An entry in neither list was not confirmed sent: keeping it in the DLQ is safe.
            failures.append((message, errors.get(key, "no result for this entry")))
    return sent, failures


def _sendable_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    # Received attributes also carry StringListValues/BinaryListValues (empty, and reserved
    # by SQS): sending them back is refused, so only the value fields are copied.
    cleaned = {}
    for name, value in attributes.items():
        entry = {"DataType": value["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in value:
                entry[key] = value[key]
        cleaned[name] = entry
    return cleaned


def _delete(sqs: Any, dlq_url: str, messages: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Delete sent messages from the DLQ; return the ids not deleted, and one error line each."""
    by_handle = {m["ReceiptHandle"]: m for m in messages}
    try:
        failed = delete_messages(sqs, dlq_url, list(by_handle))
    except ClientError as exc:
        failed = [(handle, str(exc)) for handle in by_handle]
    return [by_handle[h]["MessageId"] for h, _ in failed], [
        f"delete {by_handle[h]['MessageId']} (already sent; may be moved twice): {error}"
        for h, error in failed
    ]


def _release(sqs: Any, dlq_url: str, receipts: dict[str, str]) -> list[str]:
    errors = []
    items = list(receipts.items())
    for start in range(0, len(items), SQS_BATCH_MAX):
        chunk = items[start : start + SQS_BATCH_MAX]
        entries = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, (_, handle) in enumerate(chunk)
        ]
        try:
            response = sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)
        except ClientError as exc:
            errors.extend(f"release {message_id}: {exc}" for message_id, _ in chunk)
            continue
        errors.extend(
            f"release {chunk[int(f['Id'])][0]}: {f.get('Code')}: {f.get('Message', '')}"
            for f in response.get("Failed", [])
        )
    return errors


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
