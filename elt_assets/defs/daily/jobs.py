"""The quality gate job and the report job."""

from typing import Any

import dagster as dg

from elt_assets.defs.daily.assets import REPORT
from elt_assets.defs.datasets.assets import gold_key, silver_key
from lambda_bridge.contracts import ContractRegistry


def build_quality_gate(registry: ContractRegistry) -> Any:
    return dg.define_asset_job(
        "quality_gate",
        selection=dg.AssetSelection.assets(*[gold_key(c.name) for c in registry])
        | dg.AssetSelection.checks_for_assets(*[silver_key(c.name) for c in registry]),
        description=(
            "Runs every silver check for a day, then the gold summaries the checks allow. "
            "Launched from this page (Materialize all), the UI sends only the gold assets: each "
            "gold step then runs its dataset's silver checks itself, records them, and stops "
            "if one fails."
        ),
    )


def build_report_job() -> Any:
    return dg.define_asset_job("daily_report", selection=[REPORT])
