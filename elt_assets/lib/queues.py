"""SQS the way the control plane uses it: depths, and deletes in batches of ten."""

from typing import Any

SQS_BATCH_MAX = 10


def delete_messages(sqs: Any, url: str, receipt_handles: list[str]) -> list[tuple[str, str]]:
    """Delete messages by receipt handle, ten per request (SQS's batch limit).

    Returns:
        `(receipt_handle, error)` for every message SQS did not delete.
    """
    failed = []
    for start in range(0, len(receipt_handles), SQS_BATCH_MAX):
        chunk = receipt_handles[start : start + SQS_BATCH_MAX]
        response = sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)],
        )
        failed.extend(
            (chunk[int(f["Id"])], f"{f.get('Code')}: {f.get('Message', '')}")
            for f in response.get("Failed", [])
        )
    return failed


def queue_depths(sqs: Any, url: str) -> dict[str, int]:
    """Visible, in-flight and delayed message counts of a queue."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
    }
