"""Plays AWS Lambda for the embedded stack: the same handlers, with Lambda's delivery semantics.

- Ingest (asynchronous invocation by S3): each S3 notification invokes the ingest handler; a
  failed invocation is retried twice, then goes to the on-failure destination queue.
- Transform (SQS event source mapping): batches of up to `batch_size` messages, received with
  the function's visibility timeout; messages listed in `batchItemFailures` (or the whole batch
  when the handler raises) stay on the queue and come back after the visibility timeout; SQS
  itself moves a message to the DLQ once its receive count passes maxReceiveCount.
"""

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from elt_assets.cli.local.firehose import FirehoseEmulator
from elt_assets.cli.local.stack import Stack
from elt_assets.lib.queues import delete_messages
from lambda_bridge.contracts import ContractRegistry
from lambda_bridge.idempotency import persistence_layer
from lambda_bridge.ingest import Ingester
from lambda_bridge.ingest import make_handler as make_ingest_handler
from lambda_bridge.keys import decode_event_key
from lambda_bridge.transform import Transformer
from lambda_bridge.transform import make_handler as make_transform_handler

log = logging.getLogger(__name__)

FIREHOSE_POLL_SECONDS = 0.5
INGEST_MAX_ATTEMPTS = 3  # Lambda's asynchronous invocation: the first try and two retries


@dataclass
class LocalContext:
    """The parts of the Lambda context object the handlers and Powertools read."""

    function_name: str
    timeout_seconds: float = 60.0
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


@dataclass
class RunnerStats:
    ingest_invocations: int = 0
    objects_enqueued: int = 0
    duplicate_deliveries: int = 0
    unknown_dataset_keys: int = 0
    ingest_errors: int = 0
    ingest_dead_lettered: int = 0
    transform_batches: int = 0
    transform_batch_errors: int = 0
    messages_succeeded: int = 0
    messages_failed: int = 0


class LambdaRunner:
    """Delivers the stack's S3 notifications and SQS batches to the two handlers."""

    def __init__(
        self,
        stack: Stack,
        *,
        batch_size: int = 10,
        visibility_timeout: int = 2,
        ingest_retry_delay: int = 1,
        poll_interval: float = 0.05,
        s3_client: Any = None,
    ) -> None:
        self.stack = stack
        self.batch_size = batch_size
        self.visibility_timeout = visibility_timeout
        self.ingest_retry_delay = ingest_retry_delay
        self.poll_interval = poll_interval
        self.stats = RunnerStats()
        self.sqs = stack.client("sqs")
        self.s3 = stack.client("s3")
        registry = ContractRegistry.load(stack.settings.contracts_dir)
        persistence = persistence_layer(stack.settings.idempotency_table, stack.client("dynamodb"))
        self.ingest = make_ingest_handler(Ingester(stack.settings, registry, self.sqs, persistence))
        self.transform = make_transform_handler(
            Transformer(stack.settings, registry, s3_client or self.s3)
        )
        # Firehose, for the streams the stack has: Kinesis records become bronze objects.
        streams = stack.settings.stream_names()
        self.firehose = (
            FirehoseEmulator(
                stack.client("kinesis"), self.s3, stack.settings.bronze_bucket, streams
            )
            if streams
            else None
        )
        self._firehose_due = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one round ---------------------------------------------------------------------------

    def run_once(self) -> int:
        """Deliver what is waiting now; return how many messages were handled."""
        return self._deliver_stream() + self._deliver_notifications() + self._deliver_batch()

    def _deliver_stream(self) -> int:
        """Firehose's part, at most twice a second (reading a stream is several requests)."""
        if self.firehose is None or time.monotonic() < self._firehose_due:
            return 0
        self._firehose_due = time.monotonic() + FIREHOSE_POLL_SECONDS
        return self.firehose.poll()

    def _deliver_notifications(self) -> int:
        url = self.stack.notifications_queue_url
        response = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=self.ingest_retry_delay,
            AttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            if "Records" not in event:  # S3's s3:TestEvent when the notification is configured
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                continue
            self._add_version_ids(event)
            self.stats.ingest_invocations += 1
            try:
                summary = self.ingest(event, LocalContext("elt-ingest"))
            except Exception:
                self.stats.ingest_errors += 1
                attempts = int(message["Attributes"]["ApproximateReceiveCount"])
                log.exception("ingest invocation failed (attempt %d)", attempts)
                if attempts >= INGEST_MAX_ATTEMPTS:
                    self.sqs.send_message(
                        QueueUrl=self.stack.ingest_failures_queue_url, MessageBody=message["Body"]
                    )
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    self.stats.ingest_dead_lettered += 1
                continue
            self.stats.objects_enqueued += summary.get("enqueued", 0)
            self.stats.duplicate_deliveries += summary.get("duplicates", 0)
            self.stats.unknown_dataset_keys += summary.get("unknown_dataset", 0)
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _add_version_ids(self, event: dict[str, Any]) -> None:
        """S3 puts `versionId` in notifications of versioned buckets; moto leaves it out."""
        for record in event["Records"]:
            obj = record["s3"]["object"]
            if obj.get("versionId"):
                continue
            try:
                head = self.s3.head_object(
                    Bucket=record["s3"]["bucket"]["name"], Key=decode_event_key(obj["key"])
                )
            except Exception:  # deleted meanwhile: ingest gets the event as S3 sent it
                continue
            if head.get("VersionId") and head["VersionId"] != "null":
                obj["versionId"] = head["VersionId"]

    def _deliver_batch(self) -> int:
        url = self.stack.settings.queue_url
        response = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=self.batch_size,
            VisibilityTimeout=self.visibility_timeout,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        queue_arn = f"arn:aws:sqs:{self.stack.region}:000000000000:{self.stack.names.queue}"
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": m.get("MessageAttributes", {}),
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": self.stack.region,
                }
                for m in messages
            ]
        }
        self.stats.transform_batches += 1
        try:
            response = self.transform(event, LocalContext("elt-transform", timeout_seconds=300))
        except Exception:
            # The whole batch failed: every message becomes visible again after the timeout.
            self.stats.transform_batch_errors += 1
            self.stats.messages_failed += len(messages)
            log.exception("transform batch failed")
            return len(messages)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        delete_messages(self.sqs, url, [m["ReceiptHandle"] for m in done])
        self.stats.messages_succeeded += len(done)
        self.stats.messages_failed += len(failed)
        return len(messages)

    # -- running -----------------------------------------------------------------------------

    def pending(self) -> int:
        """Records Firehose holds, and messages visible or in flight on the notification and
        events queues."""
        total = self.firehose.pending() if self.firehose is not None else 0
        for url in (self.stack.notifications_queue_url, self.stack.settings.queue_url):
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            total += int(attrs["ApproximateNumberOfMessages"])
            total += int(attrs["ApproximateNumberOfMessagesNotVisible"])
        return total

    def drain(self, timeout: float = 60.0) -> None:
        """Deliver until both queues are empty (failed messages may go to the DLQ meanwhile).

        Raises:
            TimeoutError: work is still pending after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # With the background thread running, only wait; otherwise deliver here. Records on
            # a stream count only once read, so they are read here either way.
            handled = self.firehose.poll() if self.firehose is not None else 0
            handled += self.run_once() if self._thread is None else 0
            if not handled and self.pending() == 0:
                # moto reads its clock once per count, so a message turning visible between the
                # "visible" and "in flight" counts is in neither: confirm the zero a moment later.
                time.sleep(self.poll_interval)
                if self.pending() == 0:
                    return
            if not handled:
                time.sleep(self.poll_interval)
        msg = f"the embedded stack still had {self.pending()} messages pending after {timeout:.0f}s"
        raise TimeoutError(msg)

    def start(self) -> "LambdaRunner":
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lambda-runner", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # the stack going away under us must not kill the loop silently
                if self._stop.is_set():
                    return
                log.exception("runner round failed")
                handled = 0
            if not handled:
                self._stop.wait(self.poll_interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
