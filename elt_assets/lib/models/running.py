"""One model run for one day over an injected `read_table`, and the schema it would write."""

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from elt_assets.lib.models.model import TIEBREAK, Layer, Model, ModelError, ReadTable, window
from lambda_bridge.contracts import Contract, ContractRegistry

if TYPE_CHECKING:
    import polars as pl

# Any date: a model run on empty inputs only shows its output schema.
_SCHEMA_DAY = "1970-01-01"


def run_model(
    model: Model, day: str, read_table: ReadTable, registry: ContractRegistry
) -> pa.Table:
    """Run `model` for partition `day`.

    Args:
        model: What to run.
        day: The partition, `YYYY-MM-DD`.
        read_table: `read_table(layer, name, days)` returns a polars LazyFrame of those days of
            a silver dataset or gold model (`days` None for a reference, read whole); empty
            partitions as an empty frame with the right schema. `S3Tables` is one.
        registry: The contracts (a `current` model takes the key and order from them).

    Returns:
        The model's rows as an Arrow table: strings as `string`, lists as `list`, unsigned
        integers as `int64` (what silver and the warehouse DDL use, not polars' large types).
        A `current` model returns exactly the dataset's silver schema.

    Raises:
        ModelError: the query fails (naming the model and the partition). Errors of
            `read_table` itself (S3 unreachable) are raised as they are, to be retried.
    """
    import polars as pl

    days = window(day, model.window_days)
    frames = {
        f"{layer}.{name}": read_table(layer, name, None if layer == "ref" else days)
        for layer, name in model.deps
    }
    try:
        if model.kind == "current":
            contract = registry[model.dataset or ""]
            newest = newest_per_key(frames[f"silver.{contract.name}"], contract).collect()
            return newest.to_arrow().cast(contract.silver_schema)
        # polars' SQL resolves `silver.x` against a frame registered under that dotted name, so
        # the query runs exactly as written (aliases, `x.col` and `silver.x.col` included).
        result = pl.SQLContext(frames).execute(model.sql or "", eager=False).collect()
    except (pl.exceptions.PolarsError, pa.ArrowException) as exc:
        where = model.path or model.name
        msg = f"{where}: model {model.name!r} failed on partition {day}: {exc}"
        raise ModelError(msg) from exc
    table = result.to_arrow()
    return table.cast(_plain_schema(table.schema))


def newest_per_key(frame: "pl.LazyFrame", contract: Contract) -> "pl.LazyFrame":
    """Of `frame`'s rows, the newest per primary key: the last by the contract's `order_by`,
    then `_ingested_at`, `_source_version`, `_line`, `_source_key` (nulls oldest), sorted by key.

    The order is total, so the result does not depend on the order the files were read in.
    """
    order = [*contract.order_by, *(c for c in TIEBREAK if c not in contract.order_by)]
    key = list(contract.primary_key)
    return (
        frame.sort(order, descending=True, nulls_last=True)
        .unique(subset=key, keep="first", maintain_order=True)
        .sort(key)
    )


def output_schema(
    model: Model, registry: ContractRegistry, models: Iterable[Model] = ()
) -> pa.Schema:
    """The Arrow schema `run_model` gives `model`: found by running it on empty inputs.

    Args:
        model: The model.
        registry: The contracts (silver and reference inputs have their silver schema).
        models: The other models, for the schemas of `gold.*` inputs.

    Raises:
        ModelError: the query fails, or reads a model not in `models`.
    """
    return SchemaFinder(registry, models).schema(model)


class SchemaFinder:
    """Output schemas, each upstream model's found once."""

    def __init__(self, registry: ContractRegistry, models: Iterable[Model]) -> None:
        self._registry = registry
        self._models = {m.name: m for m in models}
        self._schemas: dict[str, pa.Schema] = {}

    def schema(self, model: Model) -> pa.Schema:
        if model.name not in self._schemas:
            self._schemas[model.name] = run_model(
                model, _SCHEMA_DAY, self._empty, self._registry
            ).schema
        return self._schemas[model.name]

    def of(self, name: str) -> pa.Schema:
        if name not in self._models:
            msg = f"unknown model {name!r} (known: {', '.join(sorted(self._models))})"
            raise ModelError(msg)
        return self.schema(self._models[name])

    def _empty(self, layer: Layer, name: str, days: Sequence[str] | None) -> "pl.LazyFrame":
        if layer == "gold":
            return empty_frame(self.of(name))
        return empty_frame(self._registry[name].silver_schema)


def empty_frame(schema: pa.Schema) -> "pl.LazyFrame":
    """A LazyFrame with no rows and `schema`'s columns and types."""
    import polars as pl

    return pl.from_arrow(schema.empty_table()).lazy()  # type: ignore[union-attr]


def _plain_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_unsigned_integer(t):
        return pa.int64()
    if pa.types.is_dictionary(t):
        return _plain_type(t.value_type)
    if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_plain_type(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_plain_type(f.type)) for f in t])
    return t


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_type(_plain_type(f.type)) for f in schema])
