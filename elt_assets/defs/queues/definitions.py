"""The queues domain: the queue assets, their depth sensor, the DLQ redrive job and sensor."""

import dagster as dg

from elt_assets.defs.datasets.assets import bronze_key
from elt_assets.defs.queues.assets import build_queue_assets
from elt_assets.defs.queues.jobs import dlq_redrive
from elt_assets.defs.queues.sensors import dlq_auto_redrive, queue_depth
from lambda_bridge.contracts import ContractRegistry


@dg.definitions
def defs() -> dg.Definitions:
    # Lineage: the ingest Lambda fills the events queue from every dataset's bronze objects.
    bronze = [bronze_key(c.name) for c in ContractRegistry.from_env()]
    return dg.Definitions(
        assets=build_queue_assets(bronze),
        jobs=[dlq_redrive],
        sensors=[queue_depth, dlq_auto_redrive],
    )
