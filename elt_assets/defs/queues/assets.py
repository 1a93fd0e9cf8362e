"""The queues as observable assets: the UI plots their depth over time."""

import dagster as dg

EVENTS_QUEUE = dg.AssetKey(["ops", "events_queue"])
DLQ = dg.AssetKey(["ops", "dlq"])

events_queue = dg.AssetSpec(
    EVENTS_QUEUE,
    group_name="operations",
    kinds={"sqs"},
    description="The events queue between the ingest and transform Lambdas (observed, not materialized).",
)
dlq = dg.AssetSpec(
    DLQ,
    group_name="operations",
    kinds={"sqs"},
    description="The events queue's dead-letter queue; dlq_redrive moves its messages back.",
)
