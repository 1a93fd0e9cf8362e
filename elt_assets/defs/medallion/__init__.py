"""Per-dataset bronze, silver and gold assets, their checks, and the landings sensor."""

import dagster as dg

from elt_assets.defs.medallion.assets import build_assets, silver_key
from elt_assets.defs.medallion.checks import build_checks
from elt_assets.defs.medallion.sensors import build_landings_sensor
from lambda_bridge.contracts import ContractRegistry


def defs(registry: ContractRegistry) -> dg.Definitions:
    assets, checks = [], []
    for contract in registry:
        assets.extend(build_assets(contract))
        checks.extend(build_checks(contract))
    silver = [silver_key(c.name) for c in registry]
    checks_job = dg.define_asset_job(
        "silver_checks",
        selection=dg.AssetSelection.checks_for_assets(*silver),
        description="The quality checks of silver partitions, as the landings sensor requests them.",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[checks_job],
        sensors=[build_landings_sensor(checks_job)],
    )
