"""The DLQ redrive job."""

import dagster as dg

from elt_assets.defs.queues.assets import DLQ
from elt_assets.defs.resources import SQSResource


class RedriveConfig(dg.Config):
    max_messages: int | None = None
    dry_run: bool = False


@dg.op(
    description="Move DLQ messages back to the events queue (never deletes before the copy is sent)."
)
def redrive_dlq(context: dg.OpExecutionContext, config: RedriveConfig, sqs: SQSResource) -> dict:
    from elt_assets.lib.redrive import redrive

    result = redrive(
        sqs.get_client(),
        sqs.dlq_url,
        sqs.queue_url,
        max_messages=config.max_messages,
        dry_run=config.dry_run,
    )
    context.log.info(
        f"redrive by {result.method}: seen {result.seen}, moved {result.moved}, failed {result.failed}"
    )
    for error in result.errors[:5]:
        context.log.warning(error)
    context.log_event(
        dg.AssetObservation(
            asset_key=DLQ, metadata={"redriven": result.moved, "redrive_failed": result.failed}
        )
    )
    counts = {
        "method": result.method,
        "seen": result.seen,
        "moved": result.moved,
        "failed": result.failed,
    }
    context.add_output_metadata(counts)
    if result.failed:
        msg = f"{result.failed} DLQ messages could not be sent back: {result.errors[:3]}"
        raise dg.Failure(msg)
    return counts


@dg.job(description="Move the dead-letter queue's messages back to the events queue.")
def dlq_redrive():
    redrive_dlq()
