"""The datasets domain: per contract, bronze, silver and gold assets, the silver checks, and the
landings sensor that reports what the Lambdas wrote."""

import dagster as dg

from elt_assets.defs.datasets.assets import build_assets
from elt_assets.defs.datasets.checks import build_checks
from elt_assets.defs.datasets.jobs import build_checks_job
from elt_assets.defs.datasets.sensors import build_landings_sensor
from lambda_bridge.contracts import ContractRegistry


@dg.definitions
def defs() -> dg.Definitions:
    registry = ContractRegistry.from_env()
    checks_job = build_checks_job(registry)
    return dg.Definitions(
        # Each asset links to the function that defines it (the UI's "code" reference).
        assets=dg.with_source_code_references(
            [asset for contract in registry for asset in build_assets(contract)]
        ),
        asset_checks=[check for contract in registry for check in build_checks(contract)],
        jobs=[checks_job],
        sensors=[build_landings_sensor(checks_job)],
    )
