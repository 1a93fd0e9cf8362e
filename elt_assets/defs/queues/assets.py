"""The queues as observable assets: the UI plots their depth over time."""

import dagster as dg

EVENTS_QUEUE = dg.AssetKey(["ops", "events_queue"])
DLQ = dg.AssetKey(["ops", "dlq"])


def build_queue_assets(bronze: list[dg.AssetKey]) -> list[dg.AssetSpec]:
    """The events queue (fed by the ingest Lambda from `bronze`) and its DLQ."""
    return [
        dg.AssetSpec(
            EVENTS_QUEUE,
            group_name="operations",
            kinds={"sqs"},
            deps=bronze,
            description=(
                "The events queue between the ingest and transform Lambdas "
                "(observed, not materialized)."
            ),
        ),
        dg.AssetSpec(
            DLQ,
            group_name="operations",
            kinds={"sqs"},
            deps=[EVENTS_QUEUE],
            description="The events queue's dead-letter queue; dlq_redrive moves its messages back.",
        ),
    ]
