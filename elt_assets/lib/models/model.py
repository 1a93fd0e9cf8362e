"""What a gold model is: its name, SQL, window and inputs, and where its output goes."""

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import polars as pl


ENV_MODELS_DIR = "ELT_MODELS_DIR"
Layer = Literal["silver", "gold", "ref"]
LAYERS: tuple[Layer, ...] = ("silver", "gold", "ref")
ModelKind = Literal["sql", "current"]
# What a generated `<dataset>_current` model and a daily summary are called; a SQL model may not
# take either name (they would be the same Dagster asset and the same gold folder).
CURRENT_SUFFIX = "_current"
DAILY_SUFFIX = "_daily"
# After the contract's `order_by`: lineage, so the newest row is one row whatever order the
# files arrived in (`_source_key` last: two files never share a key and a line).
TIEBREAK = ("_ingested_at", "_source_version", "_line", "_source_key")
MAX_WINDOW_DAYS = 366

ReadTable = Callable[[Layer, str, "Sequence[str] | None"], "pl.LazyFrame"]


class ModelError(ValueError):
    """A gold model cannot be loaded or run; the message names its file (or model and day)."""


@dataclass(frozen=True)
class Model:
    """One gold model: a SQL file, or a generated `<dataset>_current`.

    Attributes:
        name: The model's name, `gold.<name>` to other models and `gold/<name>` in Dagster.
        path: The SQL file; for a generated model, the contract file it comes from.
        sql: The query; None for a generated model (`kind` says how it runs).
        description: From the header comment `-- <name>: <description>`.
        window_days: `-- window: 7d` makes partition D read days D-6..D of its silver and gold
            inputs (ref inputs are read whole anyway); 1 by default.
        deps: The tables it reads, as (layer, name), sorted.
        kind: `sql`, or `current` for the generated newest-record-per-key models.
        dataset: For a `current` model, the dataset it dedupes.
    """

    name: str
    path: Path | None
    sql: str | None
    description: str = ""
    window_days: int = 1
    deps: tuple[tuple[Layer, str], ...] = ()
    kind: ModelKind = "sql"
    dataset: str | None = None

    @property
    def upstream_models(self) -> tuple[str, ...]:
        """The gold models this one reads."""
        return tuple(name for layer, name in self.deps if layer == "gold")

    @property
    def upstream_datasets(self) -> tuple[str, ...]:
        """The silver datasets this one reads one window of (not the reference ones)."""
        return tuple(name for layer, name in self.deps if layer == "silver")


def gold_model_key(name: str, day: str) -> str:
    """`gold/<name>/dt=<D>/part-0.parquet` in the silver bucket: one model's day, one file."""
    return f"gold/{name}/dt={day}/part-0.parquet"


def default_models_dir() -> Path:
    """`$ELT_MODELS_DIR`, else the `models/` folder of the `elt_assets` package."""
    configured = os.environ.get(ENV_MODELS_DIR)
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "models"


def window(day: str, days: int = 1) -> list[str]:
    """The ISO days D-(days-1)..D, oldest first.

    Raises:
        ModelError: `day` is not an ISO date.
    """
    try:
        end = dt.date.fromisoformat(day)
    except (TypeError, ValueError):
        msg = f"partition {day!r} is not a date (YYYY-MM-DD)"
        raise ModelError(msg) from None
    return [(end - dt.timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]
