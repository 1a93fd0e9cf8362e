"""The gold models domain: one asset per SQL file in `elt_assets/models/` (or `$ELT_MODELS_DIR`)
and one `<dataset>_current` per dataset with a primary key."""

import dagster as dg

from elt_assets.defs.models.assets import build_model_asset
from elt_assets.lib.models import load_models
from lambda_bridge.contracts import ContractRegistry


@dg.definitions
def defs() -> dg.Definitions:
    registry = ContractRegistry.from_env()
    # A model with a SQL error, an unknown table or a cycle stops the load here, naming its file.
    models = load_models(registry=registry)
    return dg.Definitions(
        assets=dg.with_source_code_references(
            [build_model_asset(m, models, registry) for m in models]
        ),
    )
