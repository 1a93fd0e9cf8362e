"""Ingest Lambda: S3 ObjectCreated -> one pointer message per object on the events queue (one
per chunk of an object over ELT_CHUNK_BYTES that can be split: DESIGN §12).

Object-level idempotency (Powertools, DynamoDB) on `bucket/key#versionId` (`#etag` when the
bucket is unversioned) makes a duplicate S3 delivery a no-op. A key under no dataset is logged
and counted, never retried.
"""

from typing import Any

import boto3
import msgspec
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event, S3EventRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_bridge.chunks import plan_chunks
from lambda_bridge.config import Settings
from lambda_bridge.contracts import ContractRegistry
from lambda_bridge.entry import Handler, lazy, wrap
from lambda_bridge.idempotency import (
    IDEMPOTENCY_KEY_PREFIX,
    idempotency_config,
    idempotency_key,
    persistence_layer,
)
from lambda_bridge.keys import decode_event_key, dt_from_key
from lambda_bridge.messages import Pointer

logger = Logger(service="elt-ingest")
metrics = Metrics(namespace="ELT", service="ingest")


class Ingester:
    """Turns S3 notifications into pointer messages, once per object version."""

    def __init__(
        self,
        settings: Settings,
        registry: ContractRegistry,
        sqs: Any,
        persistence: BasePersistenceLayer,
    ) -> None:
        self.settings = settings.require("queue_url")
        self.registry = registry
        self.sqs = sqs
        self.config = idempotency_config()
        self.sent = 0
        self._enqueue_once = idempotent_function(
            self._enqueue,
            data_keyword_argument="item",
            persistence_store=persistence,
            config=self.config,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )

    def _enqueue(self, item: dict[str, Any]) -> dict[str, Any]:
        # Runs only when the idempotency record is new: a duplicate delivery never gets here.
        self.sent += 1
        messages = item["messages"]
        if len(messages) == 1:
            response = self.sqs.send_message(
                QueueUrl=self.settings.queue_url, MessageBody=messages[0]
            )
            return {"message_id": response["MessageId"]}
        for first in range(0, len(messages), 10):  # SQS takes at most 10 a batch
            entries = [
                {"Id": str(i), "MessageBody": body}
                for i, body in enumerate(messages[first : first + 10])
            ]
            response = self.sqs.send_message_batch(
                QueueUrl=self.settings.queue_url, Entries=entries
            )
            if response.get("Failed"):
                # Raising drops the idempotency record, so S3's retry sends every chunk again;
                # a chunk sent twice is a duplicate the transform's keys absorb.
                msg = f"SQS refused {len(response['Failed'])} chunk messages: {response['Failed'][:3]}"
                raise RuntimeError(msg)
        return {"chunks": len(messages)}

    def handle(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        if context is not None:
            self.config.register_lambda_context(context)
        summary = {"enqueued": 0, "duplicates": 0, "unknown_dataset": 0, "ignored": 0}
        for record in S3Event(event).records if "Records" in event else ():
            if not record.event_name.startswith("ObjectCreated"):
                summary["ignored"] += 1
                continue
            pointer = self._pointer(record)
            if pointer is None:
                summary["unknown_dataset"] += 1
                continue
            chunks = plan_chunks(pointer.key, pointer.size, self.settings.chunk_bytes)
            pointers = [msgspec.structs.replace(pointer, chunk=c) for c in chunks or ()]
            item = {
                "idempotency_key": idempotency_key(
                    pointer.bucket, pointer.key, pointer.version_id, pointer.etag
                ),
                "messages": [p.to_json() for p in pointers or [pointer]],
            }
            before = self.sent
            self._enqueue_once(item=item)
            if self.sent == before:
                summary["duplicates"] += 1
                metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
            else:
                summary["enqueued"] += 1
                metrics.add_metric(name="ObjectsEnqueued", unit=MetricUnit.Count, value=1)
            logger.info("object handled", extra={"dataset": pointer.dataset, "key": pointer.key})
        return summary

    def _pointer(self, record: S3EventRecord) -> Pointer | None:
        """The message for one notified object, or None (logged) when it is under no dataset."""
        bucket = record.s3.bucket.name
        obj = record.s3.get_object
        # Powertools hands the key over as S3 sent it, URL-encoded: decoded here, exactly once.
        key = decode_event_key(obj.key)
        contract = self.registry.for_key(key)
        if contract is None:
            logger.warning("no dataset for key; skipped", extra={"bucket": bucket, "key": key})
            metrics.add_metric(name="UnknownDatasetKeys", unit=MetricUnit.Count, value=1)
            return None
        return Pointer(
            dataset=contract.name,
            bucket=bucket,
            key=key,
            version_id=obj.version_id or None,
            etag=obj.etag or None,
            size=obj.size if "size" in obj else None,
            dt=dt_from_key(key) or record.event_time[:10] or None,
        )


def _default_ingester() -> Ingester:
    settings = Settings.from_env().require("queue_url", "idempotency_table")
    registry = ContractRegistry.load(settings.contracts_dir)
    persistence = persistence_layer(settings.idempotency_table, boto3.client("dynamodb"))
    return Ingester(settings, registry, boto3.client("sqs"), persistence)


def make_handler(app: Ingester) -> Handler:
    """The Lambda entry point around `app`, with the same Powertools decorators as `handler`."""
    return wrap(app, logger, metrics)


# The Lambda entry point (`lambda_bridge.ingest.handler`).
handler = lazy(lambda: make_handler(_default_ingester()))
