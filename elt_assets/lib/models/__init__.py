"""Gold models: one SQL file per model over `silver.*`, `gold.*` and `ref.*` tables, run by polars.

Plain Python (no Dagster), and neither polars nor sqlglot is imported with this module: the
Dagster code location imports it at load, which must stay fast. `load_models` parses the SQL
files (sqlglot) into `Model`s in dependency order, `run_model` runs one model for one day over
an injected `read_table`, `S3Tables` is that reader over the silver bucket, and
`write_model_output` writes the result where DESIGN §9 says: `gold/<name>/dt=<D>/part-0.parquet`.

Every dataset with a primary key also gets a generated `<dataset>_current` model: of silver
partition D's rows, the newest record per key.

`model` says what a model is, `loading` reads the SQL files, `running` runs one model for one day
and `tables` reads and writes the silver bucket.
"""

from elt_assets.lib.models.loading import current_models, load_models, parse_model
from elt_assets.lib.models.model import (
    CURRENT_SUFFIX,
    DAILY_SUFFIX,
    ENV_MODELS_DIR,
    LAYERS,
    MAX_WINDOW_DAYS,
    TIEBREAK,
    Layer,
    Model,
    ModelError,
    ReadTable,
    default_models_dir,
    gold_model_key,
    window,
)
from elt_assets.lib.models.running import empty_frame, newest_per_key, output_schema, run_model
from elt_assets.lib.models.tables import S3Tables, write_model_output

__all__ = [
    "CURRENT_SUFFIX",
    "DAILY_SUFFIX",
    "ENV_MODELS_DIR",
    "LAYERS",
    "MAX_WINDOW_DAYS",
    "TIEBREAK",
    "Layer",
    "Model",
    "ModelError",
    "ReadTable",
    "S3Tables",
    "current_models",
    "default_models_dir",
    "empty_frame",
    "gold_model_key",
    "load_models",
    "newest_per_key",
    "output_schema",
    "parse_model",
    "run_model",
    "window",
    "write_model_output",
]
