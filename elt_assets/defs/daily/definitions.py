"""The daily domain: the quality gate at 02:00 UTC and the report that follows every gate run."""

import dagster as dg

from elt_assets.defs.daily.assets import build_report
from elt_assets.defs.daily.jobs import build_quality_gate, build_report_job
from elt_assets.defs.daily.schedules import build_schedule
from elt_assets.defs.daily.sensors import build_report_sensors
from lambda_bridge.contracts import ContractRegistry


@dg.definitions
def defs() -> dg.Definitions:
    registry = ContractRegistry.from_env()
    gate, report_job = build_quality_gate(registry), build_report_job()
    return dg.Definitions(
        assets=[build_report(registry)],
        jobs=[gate, report_job],
        schedules=[build_schedule(gate)],
        sensors=build_report_sensors(gate, report_job),
    )
