"""What a loaded contract is: its columns, checks and policies, and the schemas derived from them."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args

import pyarrow as pa

Format = Literal["jsonl", "json", "csv"]
ExtraFieldPolicy = Literal["drop", "keep", "reject"]
NaiveTimestampPolicy = Literal["utc", "reject"]
PartitionRule = Literal["arrival_date"]
EpochUnit = Literal["s", "ms", "us"]
# A reference dataset (FX rates, merchant categories) is loaded like any other, but gold models
# read it whole (`ref.<name>`) instead of one day of it, and it gets no `<name>_current` model.
DatasetKind = Literal["dataset", "reference"]

FORMATS: tuple[Format, ...] = get_args(Format)
EXTRA_FIELD_POLICIES: tuple[ExtraFieldPolicy, ...] = get_args(ExtraFieldPolicy)
NAIVE_TIMESTAMP_POLICIES: tuple[NaiveTimestampPolicy, ...] = get_args(NaiveTimestampPolicy)
PARTITION_RULES: tuple[PartitionRule, ...] = get_args(PartitionRule)
DATASET_KINDS: tuple[DatasetKind, ...] = get_args(DatasetKind)
EPOCH_UNITS: dict[EpochUnit, int] = {"s": 1_000_000, "ms": 1_000, "us": 1}  # microseconds per unit
DEFAULT_MAX_LINE_BYTES = 4 << 20
DEFAULT_ORDER_BY = ("_ingested_at",)
# The lineage columns `order_by` may name besides the declared ones.
ORDERABLE_LINEAGE = ("_ingested_at", "_line")


EXTRA_FIELD = pa.field("_extra", pa.string())
LINEAGE_FIELDS = (
    pa.field("_source_key", pa.string(), nullable=False),
    pa.field("_source_version", pa.string(), nullable=False),
    pa.field("_line", pa.int64(), nullable=False),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
)


@dataclass(frozen=True)
class Column:
    """One declared column of a dataset."""

    name: str
    type: str
    arrow_type: pa.DataType
    required: bool = False
    description: str = ""
    epoch_unit: EpochUnit | None = None


@dataclass(frozen=True)
class Check:
    """One Great Expectations expectation, by its snake_case name and keyword arguments."""

    expectation: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Contract:
    """A dataset's contract. Build it with `load_contract` or `contract_from_dict`, not by hand.

    Compared and hashed by identity: a loaded contract is a value that caches derived schemas.
    """

    name: str
    bronze_prefix: str
    formats: tuple[Format, ...]
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    partition: PartitionRule = "arrival_date"
    extra_fields: ExtraFieldPolicy = "drop"
    naive_timestamps: NaiveTimestampPolicy = "utc"
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    csv_delimiter: str = ","
    max_quarantine_rate: float = 0.05
    expect_daily_data: bool = True
    checks: tuple[Check, ...] = ()
    description: str = ""
    owners: tuple[str, ...] = ()  # shown as the assets' owners in Dagster
    kind: DatasetKind = "dataset"
    # What "newest" means for a primary key: the last row by these columns (then by lineage).
    order_by: tuple[str, ...] = DEFAULT_ORDER_BY
    source_path: str = ""
    fingerprint: str = ""

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """The contract's columns, in declared order, with their exact Arrow types."""
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns]
        )

    @cached_property
    def parsed_schema(self) -> pa.Schema:
        """What the parser returns: the contract's columns, then `_extra` when the policy keeps
        unknown fields (a JSON object of them per row, null when a row has none)."""
        extra = [EXTRA_FIELD] if self.extra_fields == "keep" else []
        return pa.schema([*self.arrow_schema, *extra])

    @cached_property
    def silver_schema(self) -> pa.Schema:
        """The silver Parquet schema: the parsed columns, then the lineage columns."""
        return pa.schema([*self.parsed_schema, *LINEAGE_FIELDS])

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)
