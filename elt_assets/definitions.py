"""The Dagster code location: everything under `defs/`, loaded the `dg` way."""

import warnings
from pathlib import Path

import dagster as dg

# Per-partition asset checks are "preview" in Dagster 1.13; they are what per-partition gating needs.
warnings.filterwarnings(
    "ignore", message=".*partitions_def on an AssetCheckSpec.*", category=dg.PreviewWarning
)
warnings.filterwarnings("ignore", message="Parameter `owners`.*", category=dg.BetaWarning)


@dg.definitions
def defs() -> dg.Definitions:
    # One process per run, not per step: a step's own process would load the code location (and
    # Great Expectations) again, which costs more than any of this project's steps.
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(executor=dg.in_process_executor),
    )
