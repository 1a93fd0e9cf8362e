"""The warehouse domain: every dataset's silver and every gold model, loaded into PostgreSQL
per partition."""

import dagster as dg

from elt_assets.defs.automation import automation_sensor
from elt_assets.defs.models.assets import model_key
from elt_assets.defs.warehouse.assets import build_model_load, build_silver_load
from elt_assets.lib.models import load_models
from lambda_bridge.contracts import ContractRegistry


@dg.definitions
def defs() -> dg.Definitions:
    registry = ContractRegistry.from_env()
    loads = [build_silver_load(c) for c in registry]
    models = load_models(registry=registry)
    loads += [build_model_load(m) for m in models]
    # One sensor evaluates the models' and the loads' conditions (both follow checked silver).
    targets = [key for load in loads for key in load.keys] + [model_key(m.name) for m in models]
    return dg.Definitions(
        assets=dg.with_source_code_references(loads), sensors=[automation_sensor(targets)]
    )
