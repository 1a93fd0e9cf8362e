"""The Dagster code location: merges each domain's definitions, nothing else."""

import warnings

import dagster as dg

from elt_assets.defs import medallion, operations, quality, resources
from lambda_bridge.config import Settings
from lambda_bridge.contracts import ContractRegistry

# Per-partition asset checks are "preview" in Dagster 1.13; they are what per-partition gating needs.
warnings.filterwarnings(
    "ignore", message=".*partitions_def on an AssetCheckSpec.*", category=dg.PreviewWarning
)
warnings.filterwarnings("ignore", message="Parameter `owners`.*", category=dg.BetaWarning)


def build_definitions(registry: ContractRegistry | None = None) -> dg.Definitions:
    registry = registry or ContractRegistry.load(Settings.from_env().contracts_dir)
    return dg.Definitions.merge(
        resources.defs(),
        medallion.defs(registry),
        operations.defs(),
        quality.defs(registry),
    )


defs = build_definitions()
