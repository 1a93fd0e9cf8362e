"""Dataset contracts: one YAML file per dataset, loaded and validated strictly.

A contract declares the dataset's name, bronze prefix, accepted formats, typed columns, primary
key, partition rule and quality checks. A malformed contract is refused at load with a message
that names the file and the field, so a typo never silently changes what the pipeline accepts.
"""

import hashlib
import importlib.util
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from lambda_bridge.exceptions import ContractError

FORMATS = ("jsonl", "json", "csv")
EXTRA_FIELD_POLICIES = ("drop", "keep", "reject")
EPOCH_UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1}  # microseconds per unit
DEFAULT_MAX_LINE_BYTES = 4 << 20
NAIVE_TIMESTAMP_POLICIES = ("utc", "reject")
PARTITION_RULES = ("arrival_date",)

EXTRA_FIELD = pa.field("_extra", pa.string())
LINEAGE_FIELDS = (
    pa.field("_source_key", pa.string(), nullable=False),
    pa.field("_source_version", pa.string(), nullable=False),
    pa.field("_line", pa.int64(), nullable=False),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}
_TOP_KEYS = {
    "name",
    "description",
    "bronze_prefix",
    "formats",
    "columns",
    "primary_key",
    "partition",
    "extra_fields",
    "naive_timestamps",
    "max_line_bytes",
    "csv",
    "quality",
    "checks",
}
_COLUMN_KEYS = {"name", "type", "required", "nullable", "description", "epoch_unit"}


def parse_type(text: str) -> pa.DataType:
    """Turn a contract type (`int64`, `decimal(12,2)`, `list<string>`, `struct<a: int64>`) into Arrow.

    Raises:
        ValueError: the text is not a known type.
    """
    parser = _TypeParser(text)
    result = parser.parse()
    if parser.pos != len(parser.text):
        msg = f"unexpected {parser.text[parser.pos :]!r} in type {text!r}"
        raise ValueError(msg)
    return result


class _TypeParser:
    def __init__(self, text: str) -> None:
        self.text = text.replace(" ", "")
        self.pos = 0

    def _word(self) -> str:
        match = re.compile(r"[a-z_][a-z0-9_]*").match(self.text, self.pos)
        if not match:
            msg = f"expected a type name at {self.text[self.pos :]!r}"
            raise ValueError(msg)
        self.pos = match.end()
        return match.group()

    def _expect(self, char: str) -> None:
        if not self.text.startswith(char, self.pos):
            msg = f"expected {char!r} at {self.text[self.pos :]!r}"
            raise ValueError(msg)
        self.pos += 1

    def parse(self) -> pa.DataType:
        word = self._word()
        if word in _SCALARS:
            return _SCALARS[word]
        if word == "decimal":
            match = re.compile(r"\((\d+),(\d+)\)").match(self.text, self.pos)
            if not match:
                msg = "decimal needs a precision and scale, e.g. decimal(12,2)"
                raise ValueError(msg)
            self.pos = match.end()
            precision, scale = int(match.group(1)), int(match.group(2))
            if not 1 <= precision <= 38 or not 0 <= scale <= precision:
                msg = f"decimal({precision},{scale}) is out of range (precision 1..38, scale 0..precision)"
                raise ValueError(msg)
            return pa.decimal128(precision, scale)
        if word == "list":
            self._expect("<")
            inner = self.parse()
            self._expect(">")
            return pa.list_(inner)
        if word == "struct":
            self._expect("<")
            fields = []
            while True:
                name = self._word()
                self._expect(":")
                fields.append(pa.field(name, self.parse()))
                if self.text.startswith(">", self.pos):
                    self.pos += 1
                    return pa.struct(fields)
                self._expect(",")
        msg = f"unknown type {word!r} (known: {', '.join([*_SCALARS, 'decimal(p,s)', 'list<T>', 'struct<..>'])})"
        raise ValueError(msg)


@dataclass(frozen=True)
class Column:
    """One declared column of a dataset."""

    name: str
    type: str
    arrow_type: pa.DataType
    required: bool = False
    description: str = ""
    epoch_unit: str | None = None


@dataclass(frozen=True)
class Check:
    """One Great Expectations expectation, by its snake_case name and keyword arguments."""

    expectation: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Contract:
    """A dataset's contract. Build it with `load_contract`, not by hand.

    Compared and hashed by identity: a loaded contract is a value that caches derived schemas.
    """

    name: str
    bronze_prefix: str
    formats: tuple[str, ...]
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    partition: str = "arrival_date"
    extra_fields: str = "drop"
    naive_timestamps: str = "utc"
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    csv_delimiter: str = ","
    max_quarantine_rate: float = 0.05
    checks: tuple[Check, ...] = ()
    description: str = ""
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


def _fail(path: str, where: str, problem: str) -> ContractError:
    return ContractError(f"{path}: field '{where}': {problem}")


def _as_bool(value: Any, path: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, where, f"expected true or false, got {value!r}")
    return value


def contract_from_dict(doc: Any, path: str = "<contract>") -> Contract:
    """Validate a parsed YAML document and build a Contract.

    Raises:
        ContractError: with the file and the offending field named.
    """
    if not isinstance(doc, dict):
        msg = f"{path}: a contract must be a mapping, got {type(doc).__name__}"
        raise ContractError(msg)
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise _fail(path, unknown[0], f"unknown field (known: {', '.join(sorted(_TOP_KEYS))})")

    name = doc.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(path, "name", f"must match [a-z][a-z0-9_]*, got {name!r}")

    prefix = doc.get("bronze_prefix", f"bronze/{name}/")
    if not isinstance(prefix, str) or not prefix.startswith("bronze/") or not prefix.endswith("/"):
        raise _fail(
            path, "bronze_prefix", f"must start with 'bronze/' and end with '/', got {prefix!r}"
        )

    formats = doc.get("formats", ["jsonl", "json"])
    if not isinstance(formats, list) or not formats or any(f not in FORMATS for f in formats):
        raise _fail(path, "formats", f"must be a non-empty list of {FORMATS}, got {formats!r}")

    raw_columns = doc.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise _fail(path, "columns", "must be a non-empty list")
    columns: list[Column] = []
    for i, raw in enumerate(raw_columns):
        where = f"columns[{i}]"
        if not isinstance(raw, dict):
            raise _fail(path, where, f"must be a mapping, got {raw!r}")
        extra = sorted(set(raw) - _COLUMN_KEYS)
        if extra:
            raise _fail(
                path,
                f"{where}.{extra[0]}",
                f"unknown field (known: {', '.join(sorted(_COLUMN_KEYS))})",
            )
        col_name = raw.get("name")
        if not isinstance(col_name, str) or not _NAME.match(col_name):
            raise _fail(path, f"{where}.name", f"must match [a-z][a-z0-9_]*, got {col_name!r}")
        if col_name in {c.name for c in columns}:
            raise _fail(path, f"{where}.name", f"duplicate column {col_name!r}")
        type_text = raw.get("type")
        if not isinstance(type_text, str):
            raise _fail(path, f"{where}.type", f"must be a type name, got {type_text!r}")
        try:
            arrow_type = parse_type(type_text)
        except ValueError as exc:
            raise _fail(path, f"{where}.type", str(exc)) from None
        required = _as_bool(raw.get("required", False), path, f"{where}.required")
        if "nullable" in raw:
            nullable = _as_bool(raw["nullable"], path, f"{where}.nullable")
            if "required" in raw and nullable == required:
                raise _fail(path, f"{where}.nullable", "contradicts 'required' (use one of them)")
            required = not nullable
        epoch_unit = raw.get("epoch_unit")
        if epoch_unit is not None:
            if epoch_unit not in EPOCH_UNITS:
                raise _fail(
                    path,
                    f"{where}.epoch_unit",
                    f"must be one of {tuple(EPOCH_UNITS)}, got {epoch_unit!r}",
                )
            if not pa.types.is_timestamp(arrow_type):
                raise _fail(
                    path, f"{where}.epoch_unit", "only a timestamp column can be epoch time"
                )
        columns.append(
            Column(
                name=col_name,
                type=type_text.replace(" ", ""),
                arrow_type=arrow_type,
                required=required,
                description=str(raw.get("description", "")),
                epoch_unit=epoch_unit,
            )
        )

    names = {c.name for c in columns}
    if "csv" in formats:
        for i, column in enumerate(columns):
            if pa.types.is_nested(column.arrow_type):
                raise _fail(path, f"columns[{i}].type", f"{column.type!r} cannot be read from CSV")
    primary_key = doc.get("primary_key", [])
    if isinstance(primary_key, str):
        primary_key = [primary_key]
    if not isinstance(primary_key, list) or any(k not in names for k in primary_key):
        raise _fail(path, "primary_key", f"must list declared columns, got {primary_key!r}")

    partition = doc.get("partition", "arrival_date")
    if isinstance(partition, dict):
        partition = partition.get("by")
    if partition not in PARTITION_RULES:
        raise _fail(path, "partition", f"must be one of {PARTITION_RULES}, got {partition!r}")

    extra_fields = doc.get("extra_fields", "drop")
    if extra_fields not in EXTRA_FIELD_POLICIES:
        raise _fail(
            path, "extra_fields", f"must be one of {EXTRA_FIELD_POLICIES}, got {extra_fields!r}"
        )

    naive = doc.get("naive_timestamps", "utc")
    if naive not in NAIVE_TIMESTAMP_POLICIES:
        raise _fail(
            path, "naive_timestamps", f"must be one of {NAIVE_TIMESTAMP_POLICIES}, got {naive!r}"
        )

    max_line = doc.get("max_line_bytes", DEFAULT_MAX_LINE_BYTES)
    if not isinstance(max_line, int) or isinstance(max_line, bool) or max_line < 1024:
        raise _fail(path, "max_line_bytes", f"must be an integer >= 1024, got {max_line!r}")

    csv_opts = doc.get("csv", {}) or {}
    delimiter = csv_opts.get("delimiter", ",") if isinstance(csv_opts, dict) else None
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise _fail(path, "csv.delimiter", f"must be one character, got {delimiter!r}")

    quality = doc.get("quality", {}) or {}
    if not isinstance(quality, dict):
        raise _fail(path, "quality", f"must be a mapping, got {quality!r}")
    rate = quality.get("max_quarantine_rate", 0.05)
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
        raise _fail(
            path, "quality.max_quarantine_rate", f"must be a number in [0, 1], got {rate!r}"
        )

    checks: list[Check] = []
    for i, raw in enumerate(doc.get("checks", []) or []):
        where = f"checks[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("expectation"), str):
            raise _fail(path, where, "must be a mapping with an 'expectation' name")
        if not raw["expectation"].startswith("expect_"):
            raise _fail(
                path, f"{where}.expectation", f"not an expectation name: {raw['expectation']!r}"
            )
        kwargs = raw.get("kwargs", {}) or {}
        if not isinstance(kwargs, dict):
            raise _fail(path, f"{where}.kwargs", f"must be a mapping, got {kwargs!r}")
        column = kwargs.get("column")
        if column is not None and column not in names:
            raise _fail(path, f"{where}.kwargs.column", f"{column!r} is not a declared column")
        checks.append(Check(expectation=raw["expectation"], kwargs=kwargs))

    canonical = yaml.safe_dump(doc, sort_keys=True).encode()
    return Contract(
        name=name,
        bronze_prefix=prefix,
        formats=tuple(formats),
        columns=tuple(columns),
        primary_key=tuple(primary_key),
        partition=partition,
        extra_fields=extra_fields,
        naive_timestamps=naive,
        max_line_bytes=max_line,
        csv_delimiter=delimiter,
        max_quarantine_rate=float(rate),
        checks=tuple(checks),
        description=str(doc.get("description", "")),
        source_path=path,
        fingerprint=hashlib.sha256(canonical).hexdigest()[:12],
    )


def load_contract(path: Path | str) -> Contract:
    """Load and validate one contract file."""
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


def default_contracts_dir() -> Path:
    """Where contracts live when ELT_CONTRACTS_DIR is unset.

    In a Lambda zip they sit beside this package (`contracts/`); in the repository and in an
    installed wheel they are `elt_assets/contracts`, found without importing elt_assets.
    """
    beside = Path(__file__).resolve().parent.parent / "contracts"
    if beside.is_dir():
        return beside
    spec = importlib.util.find_spec("elt_assets")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "contracts"
            if candidate.is_dir():
                return candidate
    msg = "no contracts folder found: set ELT_CONTRACTS_DIR"
    raise ContractError(msg)


class ContractRegistry:
    """All contracts of a folder, with lookup by bronze key."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        self._by_name: dict[str, Contract] = {}
        for contract in contracts:
            if contract.name in self._by_name:
                msg = f"{contract.source_path}: dataset {contract.name!r} is declared twice"
                raise ContractError(msg)
            for other in self._by_name.values():
                a, b = contract.bronze_prefix, other.bronze_prefix
                if a.startswith(b) or b.startswith(a):
                    msg = (
                        f"{contract.source_path}: bronze_prefix {a!r} overlaps {b!r} of "
                        f"{other.name!r}; a key must belong to one dataset"
                    )
                    raise ContractError(msg)
            self._by_name[contract.name] = contract

    @classmethod
    def load(cls, directory: Path | str | None = None) -> "ContractRegistry":
        folder = Path(directory) if directory else default_contracts_dir()
        if not folder.is_dir():
            msg = f"contracts folder {folder} does not exist"
            raise ContractError(msg)
        files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
        if not files:
            msg = f"contracts folder {folder} has no *.yaml contracts"
            raise ContractError(msg)
        return cls(load_contract(p) for p in files)

    def __getitem__(self, name: str) -> Contract:
        try:
            return self._by_name[name]
        except KeyError:
            msg = f"unknown dataset {name!r} (known: {', '.join(sorted(self._by_name))})"
            raise KeyError(msg) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(sorted(self._by_name.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)

    def for_key(self, key: str) -> Contract | None:
        """The dataset whose bronze prefix holds `key`, or None."""
        for contract in self._by_name.values():
            if key.startswith(contract.bronze_prefix) and len(key) > len(contract.bronze_prefix):
                return contract
        return None
