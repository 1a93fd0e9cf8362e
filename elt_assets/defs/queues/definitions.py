"""The queues domain: the queue assets, their depth sensor, the DLQ redrive job and sensor."""

import dagster as dg

from elt_assets.defs.queues.assets import dlq, events_queue
from elt_assets.defs.queues.jobs import dlq_redrive
from elt_assets.defs.queues.sensors import dlq_auto_redrive, queue_depth


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[events_queue, dlq], jobs=[dlq_redrive], sensors=[queue_depth, dlq_auto_redrive]
    )
