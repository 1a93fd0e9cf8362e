"""Transform Lambda: SQS batches of pointer messages -> silver Parquet, quarantine, manifests.

Powertools' BatchProcessor reports only the messages whose record handler raised in
`batchItemFailures`. Bad content never raises (it is quarantined); only S3 failures, which a
retry can fix, and malformed messages, which belong in the DLQ, fail a message.
"""

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


class Transformer:
    """Processes one SQS record (one pointer message) at a time."""

    def __init__(self, settings: Settings, registry: ContractRegistry, s3: Any) -> None:
        self.settings = settings.require("silver_bucket")
        self.registry = registry
        self.s3 = s3

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

    def handle(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
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
