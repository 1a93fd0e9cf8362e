"""Transform Lambda: SQS batches of pointer messages -> silver Parquet, quarantine, manifests.

Powertools' BatchProcessor reports only the messages whose record handler raised in
`batchItemFailures`. Bad content never raises (it is quarantined); only S3 failures, which a
retry can fix, and malformed messages, which belong in the DLQ, fail a message.

A streamed object must finish within the invocation's time, less a margin for writing its
outputs: one that cannot is quarantined as `too_large`, unless it started late in its batch
(earlier messages used the time), when it fails so a fresh invocation retries it.
"""

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_bridge.config import Settings
from lambda_bridge.contracts import ContractRegistry
from lambda_bridge.entry import Handler, lazy, wrap
from lambda_bridge.exceptions import MessageError
from lambda_bridge.messages import Pointer
from lambda_bridge.process import Outcome, process_object

logger = Logger(service="elt-transform")
metrics = Metrics(namespace="ELT", service="transform")
# Kept back from the invocation's time: uploading a streamed object's files and its manifest,
# and the block being parsed when the deadline passes. At most a fifth of a short timeout.
SAFETY_MARGIN_SECONDS = 30.0
SAFETY_MARGIN_FRACTION = 0.2
# A message that starts after this share of the invocation's time is late: running out of time
# then says nothing about the object, so it is retried rather than quarantined.
LATE_FRACTION = 0.1


class Transformer:
    """Processes one SQS record (one pointer message) at a time."""

    def __init__(self, settings: Settings, registry: ContractRegistry, s3: Any) -> None:
        self.settings = settings.require("silver_bucket")
        self.registry = registry
        self.s3 = s3
        self._time: tuple[float, float] | None = None  # (invocation start, its seconds)

    def record_handler(self, record: SQSRecord) -> Outcome:
        pointer = Pointer.from_json(record.body)
        if pointer.dataset not in self.registry:
            msg = f"message names unknown dataset {pointer.dataset!r}"
            raise MessageError(msg)
        outcome = process_object(
            self.s3,
            self.registry[pointer.dataset],
            self.settings.silver_bucket,
            pointer.bucket,
            pointer.key,
            pointer.version_id,
            chunk=pointer.chunk,
            max_bytes=self.settings.max_object_bytes,
            chunk_bytes=self.settings.chunk_bytes,
            **self._deadline(),
        )
        if outcome.status == "processed" and outcome.manifest is not None:
            m = outcome.manifest
            metrics.add_metric(name="ObjectsProcessed", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="RowsOut", unit=MetricUnit.Count, value=m["rows_out"])
            metrics.add_metric(
                name="RowsQuarantined", unit=MetricUnit.Count, value=m["rows_quarantined"]
            )
            logger.info(
                "object transformed",
                extra={
                    "dataset": pointer.dataset,
                    "key": pointer.key,
                    "lines_in": m["lines_in"],
                    "rows_out": m["rows_out"],
                    "rows_quarantined": m["rows_quarantined"],
                },
            )
        else:
            metrics.add_metric(name="ObjectsSkipped", unit=MetricUnit.Count, value=1)
            logger.info(
                "object skipped",
                extra={"key": pointer.key, "status": outcome.status, "reason": outcome.reason},
            )
        return outcome

    def _deadline(self) -> dict[str, Any]:
        """`process_object`'s deadline and late_retries for a message starting now."""
        if self._time is None:
            return {}
        start, seconds = self._time
        margin = min(SAFETY_MARGIN_SECONDS, seconds * SAFETY_MARGIN_FRACTION)
        late = time.monotonic() - start > seconds * LATE_FRACTION
        return {"deadline": start + seconds - margin, "late_retries": late}

    def handle(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._time = (time.monotonic(), remaining() / 1000) if remaining else None
        processor = BatchProcessor(event_type=EventType.SQS)
        return process_partial_response(
            event=event,
            record_handler=self.record_handler,
            processor=processor,
            context=context,
        )


def _default_transformer() -> Transformer:
    settings = Settings.from_env().require("silver_bucket")
    return Transformer(settings, ContractRegistry.load(settings.contracts_dir), boto3.client("s3"))


def make_handler(app: Transformer) -> Handler:
    """The Lambda entry point around `app`, with the same Powertools decorators as `handler`."""
    return wrap(app, logger, metrics)


# The Lambda entry point (`lambda_bridge.transform.handler`).
handler = lazy(lambda: make_handler(_default_transformer()))
