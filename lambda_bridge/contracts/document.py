"""The contract file: its YAML document validated with msgspec, then the rules across fields.

msgspec checks the shape (known fields only, types, enums, name patterns, ranges); by hand are
only the rules that relate one field to another. Either way a malformed contract is refused
with the file and the field named, e.g. `shipments.yaml: field 'columns[1].type': ...`.
"""

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pyarrow as pa
import yaml

from lambda_bridge.contracts.model import (
    DATASET_KINDS,
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_ORDER_BY,
    EPOCH_UNITS,
    EXTRA_FIELD_POLICIES,
    FORMATS,
    NAIVE_TIMESTAMP_POLICIES,
    ORDERABLE_LINEAGE,
    PARTITION_RULES,
    Check,
    Column,
    Contract,
    DatasetKind,
    EpochUnit,
    ExtraFieldPolicy,
    Format,
    NaiveTimestampPolicy,
    PartitionRule,
)
from lambda_bridge.contracts.types import parse_type
from lambda_bridge.exceptions import ContractError
from lambda_bridge.validation import locate

Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$")]
# Starts with `bronze/` and ends with `/` (`\Z`: `$` would also pass a trailing newline).
BronzePrefix = Annotated[str, msgspec.Meta(pattern=r"(?s)^bronze/(.*/)?\Z")]
# Dagster's two kinds of owner: a person's e-mail address or `team:<name>`.
Owner = Annotated[str, msgspec.Meta(pattern=r"^(team:[A-Za-z0-9_.-]+|[^@\s]+@[^@\s]+\.[^@\s]+)\Z")]


class ColumnDoc(msgspec.Struct, forbid_unknown_fields=True):
    """One entry of `columns`."""

    name: Name
    type: str
    # UNSET when absent: `nullable` may only contradict a `required` that is written.
    required: bool | msgspec.UnsetType = msgspec.UNSET
    nullable: bool | msgspec.UnsetType = msgspec.UNSET
    description: str | None = None
    epoch_unit: EpochUnit | None = None


class CheckDoc(msgspec.Struct, forbid_unknown_fields=True):
    """One entry of `checks`: a Great Expectations expectation and its keyword arguments."""

    expectation: Annotated[str, msgspec.Meta(pattern=r"^expect_")]
    kwargs: dict[str, Any] | None = None


class PartitionDoc(msgspec.Struct, forbid_unknown_fields=True):
    """`partition: {by: arrival_date}`, the long form of `partition: arrival_date`."""

    by: PartitionRule


class CsvDoc(msgspec.Struct, forbid_unknown_fields=True):
    """`csv`: how CSV objects are split."""

    delimiter: Annotated[str, msgspec.Meta(min_length=1, max_length=1)] = ","


class QualityDoc(msgspec.Struct, forbid_unknown_fields=True):
    """`quality`: the thresholds of the built-in checks."""

    max_quarantine_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.05
    # false for a dataset that may rightly have days without data: its volume check then passes.
    expect_daily_data: bool = True


class ContractDoc(msgspec.Struct, forbid_unknown_fields=True):
    """A contract file's document, as written."""

    name: Name
    columns: Annotated[list[ColumnDoc], msgspec.Meta(min_length=1)]
    description: str | None = None
    owners: tuple[Owner, ...] = ()
    # UNSET, not None, when absent: an explicit `null` is refused, not taken for the default.
    bronze_prefix: BronzePrefix | msgspec.UnsetType = msgspec.UNSET
    formats: Annotated[tuple[Format, ...], msgspec.Meta(min_length=1)] = ("jsonl", "json")
    primary_key: str | tuple[str, ...] = ()
    kind: DatasetKind = "dataset"
    order_by: str | Annotated[tuple[str, ...], msgspec.Meta(min_length=1)] = DEFAULT_ORDER_BY
    partition: PartitionRule | PartitionDoc = "arrival_date"
    extra_fields: ExtraFieldPolicy = "drop"
    naive_timestamps: NaiveTimestampPolicy = "utc"
    max_line_bytes: Annotated[int, msgspec.Meta(ge=1024)] = DEFAULT_MAX_LINE_BYTES
    csv: CsvDoc | None = None
    quality: QualityDoc | None = None
    checks: list[CheckDoc] | None = None


# The document an unknown field was found in, by the name of the field holding it.
_DOCS: dict[str, type[msgspec.Struct]] = {
    "": ContractDoc,
    "columns": ColumnDoc,
    "checks": CheckDoc,
    "partition": PartitionDoc,
    "csv": CsvDoc,
    "quality": QualityDoc,
}


# What a field takes, in words, where msgspec's message shows a regex or not the choices.
_TAKES = {
    "name": "lower-case letters, digits and '_', starting with a letter",
    "bronze_prefix": "a prefix that starts with 'bronze/' and ends with '/'",
    "owners": "e-mail addresses or team:<name> entries",
    "formats": f"one of {', '.join(FORMATS)}",
    "extra_fields": f"one of {', '.join(EXTRA_FIELD_POLICIES)}",
    "naive_timestamps": f"one of {', '.join(NAIVE_TIMESTAMP_POLICIES)}",
    "partition": f"one of {', '.join(PARTITION_RULES)}, or {{by: <one of them>}}",
    "by": f"one of {', '.join(PARTITION_RULES)}",
    "epoch_unit": f"one of {', '.join(EPOCH_UNITS)}",
    "kind": f"one of {', '.join(DATASET_KINDS)}",
    "order_by": "a column name or a list of them (declared columns, _ingested_at or _line)",
}


def _fail(path: str, where: str, problem: str) -> ContractError:
    return ContractError(f"{path}: field '{where}': {problem}")


def _invalid(path: str, exc: msgspec.ValidationError) -> ContractError:
    where, problem = locate(exc)
    if not where:
        return ContractError(f"{path}: a contract must be a mapping: {problem}")
    if problem.startswith("Object contains unknown field"):
        # `columns[0].requird` was found in a `columns` entry; `colums` in the document itself.
        outer = where.rpartition(".")[0] if "." in where else ""
        holder = _DOCS.get(outer.rsplit(".", 1)[-1].split("[", 1)[0])
        if holder is not None:
            problem = f"unknown field (known: {', '.join(sorted(holder.__struct_fields__))})"
    elif not problem.startswith("Object missing"):
        takes = _TAKES.get(re.sub(r"\[\d+\]$", "", where).rsplit(".", 1)[-1])
        problem = f"{problem} (takes {takes})" if takes else problem
    return _fail(path, where, problem)


def contract_from_dict(doc: Any, path: str = "<contract>") -> Contract:
    """Validate a parsed YAML document and build a Contract.

    Args:
        doc: The document, as `yaml.safe_load` returns it.
        path: The file it came from, named in errors.

    Raises:
        ContractError: with the file and the offending field named.
    """
    try:
        spec = msgspec.convert(doc, type=ContractDoc, strict=True)
    except msgspec.ValidationError as exc:
        raise _invalid(path, exc) from None

    columns: list[Column] = []
    for i, raw in enumerate(spec.columns):
        where = f"columns[{i}]"
        if raw.name in {c.name for c in columns}:
            raise _fail(path, f"{where}.name", f"duplicate column {raw.name!r}")
        try:
            arrow_type = parse_type(raw.type)
        except ValueError as exc:
            raise _fail(path, f"{where}.type", str(exc)) from None
        required = raw.required is True
        if raw.nullable is not msgspec.UNSET:
            if raw.required is not msgspec.UNSET and raw.nullable == raw.required:
                raise _fail(path, f"{where}.nullable", "contradicts 'required' (use one of them)")
            required = not raw.nullable
        if raw.epoch_unit is not None and not pa.types.is_timestamp(arrow_type):
            raise _fail(path, f"{where}.epoch_unit", "only a timestamp column can be epoch time")
        if "csv" in spec.formats and pa.types.is_nested(arrow_type):
            raise _fail(path, f"{where}.type", f"{raw.type!r} cannot be read from CSV")
        columns.append(
            Column(
                name=raw.name,
                type=raw.type.replace(" ", ""),
                arrow_type=arrow_type,
                required=required,
                description=raw.description or "",
                epoch_unit=raw.epoch_unit,
            )
        )

    names = {c.name for c in columns}
    primary_key = (spec.primary_key,) if isinstance(spec.primary_key, str) else spec.primary_key
    if any(k not in names for k in primary_key):
        raise _fail(path, "primary_key", f"must list declared columns, got {list(primary_key)!r}")

    order_by = (spec.order_by,) if isinstance(spec.order_by, str) else spec.order_by
    unknown = [c for c in order_by if c not in names and c not in ORDERABLE_LINEAGE]
    if unknown:
        problem = (
            f"{unknown[0]!r} is not a declared column "
            f"(order by declared columns, {' or '.join(ORDERABLE_LINEAGE)})"
        )
        raise _fail(path, "order_by", problem)
    if len(set(order_by)) != len(order_by):
        raise _fail(path, "order_by", f"names a column twice: {list(order_by)!r}")

    checks: list[Check] = []
    for i, raw_check in enumerate(spec.checks or []):
        kwargs = raw_check.kwargs or {}
        column = kwargs.get("column")
        if column is not None and column not in names:
            where = f"checks[{i}].kwargs.column"
            raise _fail(path, where, f"{column!r} is not a declared column")
        checks.append(Check(expectation=raw_check.expectation, kwargs=kwargs))

    partition = spec.partition if isinstance(spec.partition, str) else spec.partition.by
    prefix = spec.bronze_prefix or f"bronze/{spec.name}/"
    canonical = yaml.safe_dump(doc, sort_keys=True).encode()
    return Contract(
        name=spec.name,
        bronze_prefix=prefix,
        formats=spec.formats,
        columns=tuple(columns),
        primary_key=primary_key,
        partition=partition,
        extra_fields=spec.extra_fields,
        naive_timestamps=spec.naive_timestamps,
        max_line_bytes=spec.max_line_bytes,
        csv_delimiter=(spec.csv or CsvDoc()).delimiter,
        max_quarantine_rate=(spec.quality or QualityDoc()).max_quarantine_rate,
        expect_daily_data=(spec.quality or QualityDoc()).expect_daily_data,
        checks=tuple(checks),
        description=spec.description or "",
        owners=spec.owners,
        kind=spec.kind,
        order_by=order_by,
        source_path=path,
        fingerprint=hashlib.sha256(canonical).hexdigest()[:12],
    )


def load_contract(path: Path | str) -> Contract:
    """Load and validate one contract file.

    Raises:
        ContractError: the file cannot be read, is not YAML, or is not a valid contract; the
            message names the file (and the field).
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        msg = f"{path}: not valid YAML: {exc}"
        raise ContractError(msg) from None
    except OSError as exc:
        msg = f"{path}: cannot read the contract: {exc.strerror}"
        raise ContractError(msg) from None
    contract = contract_from_dict(doc, str(path))
    if contract.name != path.stem:
        raise _fail(str(path), "name", f"{contract.name!r} must match the file name {path.stem!r}")
    return contract
