"""The job the landings sensor requests: the checks of silver partitions."""

from typing import Any

import dagster as dg

from elt_assets.defs.datasets.assets import silver_key
from lambda_bridge.contracts import ContractRegistry


def build_checks_job(registry: ContractRegistry) -> Any:
    return dg.define_asset_job(
        "silver_checks",
        selection=dg.AssetSelection.checks_for_assets(*[silver_key(c.name) for c in registry]),
        description="The quality checks of silver partitions, as the landings sensor requests them.",
    )
