"""The per-row checks every path ends in, so a line's fate never depends on its file's path."""

from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lambda_bridge.contracts import Contract
from lambda_bridge.parse.cast import _mask, cast_strings, epoch_to_timestamp
from lambda_bridge.parse.lines import _content
from lambda_bridge.parse.result import TOO_DEEP, BadLine, ErrorCode, ParseResult


def _finish(
    table: pa.Table,
    line_nos: np.ndarray,
    contract: Contract,
    raw_of: Callable[[int], bytes],
    bad: list[BadLine],
    lines_in: int,
    extra_of: Callable[[int], bytes | None] | None = None,
) -> ParseResult:
    """Per-row checks in a fixed order, then the exact contract schema.

    `extra_of` gives a line's unknown fields as a JSON object (the `keep` policy's `_extra`);
    without it, `_extra` is null, as it is for a file read without any unknown field.

    The order (non-finite floats, then missing required values, then casts) is the order the
    per-line classifier finds the same problems in, so a line gets the same code on any path.
    """
    n = table.num_rows
    failed = np.zeros(n, dtype=bool)
    reasons: dict[int, tuple[ErrorCode, str]] = {}
    texts: dict[str, str] = {}  # one copy of each message, however many rows share it

    def flag(mask: np.ndarray, code: ErrorCode, describe: Callable[[int], str]) -> None:
        new = mask & ~failed
        for i in np.flatnonzero(new):
            text = describe(int(i))
            reasons[int(i)] = (code, texts.setdefault(text, text))
        failed[new] = True

    # Columns stay chunked as read (a copy of every column costs ~0.2 ms/MB); the rare
    # failing cast combines its own column.
    arrays: dict[str, Any] = {c.name: table.column(c.name) for c in contract.columns}
    for column in contract.columns:
        values = arrays[column.name]
        if pa.types.is_floating(values.type) and n:
            non_finite = pc.or_(pc.is_nan(values), pc.is_inf(values))
            if not pc.any(non_finite).as_py():  # the common case: no mask to build
                continue
            flag(
                _mask(non_finite),
                ErrorCode.JSON_DECODE,
                lambda i, c=column.name: f"column {c!r}: NaN/Infinity is not valid JSON",
            )
    for column in contract.columns:
        # Arrow keeps each array's null count, so a column without nulls costs nothing here.
        if column.required and n and arrays[column.name].null_count:
            flag(
                _mask(pc.is_null(arrays[column.name])),
                ErrorCode.MISSING_REQUIRED,
                lambda i, c=column.name: f"required column {c!r} is missing or null",
            )
    for column in contract.columns:
        values = arrays[column.name]
        if values.type == column.arrow_type:
            continue
        if column.epoch_unit is not None:
            cast, cast_failed = epoch_to_timestamp(values, column.epoch_unit, column.arrow_type)
        else:
            cast, cast_failed = cast_strings(
                values, column.arrow_type, contract.naive_timestamps == "utc"
            )
        arrays[column.name] = cast

        def describe(
            i: int, c: str = column.name, v: pa.Array = values, t: str = column.type
        ) -> str:
            return f"column {c!r}: cannot read {v[i].as_py()!r} as {t}"

        flag(cast_failed, ErrorCode.TYPE_MISMATCH, describe)

    extras: list[bytes | None] | None = None
    if contract.extra_fields == "keep":
        extras = [None] * n
        if extra_of is not None:
            unreadable = np.zeros(n, dtype=bool)
            why: dict[int, str] = {}
            for i in np.flatnonzero(~failed):
                try:
                    extras[i] = extra_of(int(line_nos[i]))
                except RecursionError:
                    unreadable[i], why[int(i)] = True, TOO_DEEP
                except msgspec.DecodeError as exc:
                    unreadable[i], why[int(i)] = True, f"invalid JSON: {exc}"
            flag(unreadable, ErrorCode.JSON_DECODE, lambda i: f"{why[i]} (keeping `_extra`)")

    for i, (code, error) in reasons.items():
        no = int(line_nos[i])
        bad.append(BadLine(no, code, error, raw_of(no)))
    bad.sort(key=lambda b: b.line)
    keep = pa.array(~failed) if failed.any() else None
    columns = [arrays[c.name] for c in contract.columns]
    if extras is not None:
        columns.append(pa.array(extras, pa.string()))
    out = pa.Table.from_arrays(columns, schema=contract.parsed_schema)
    if keep is not None:
        out = out.filter(keep)
        line_nos = line_nos[~failed]
    return ParseResult(out, line_nos, bad, lines_in)


def _extras_of(raw_of: Callable[[int], bytes], contract: Contract) -> Callable[[int], bytes | None]:
    known = frozenset(contract.column_names)
    return lambda no: extra_fields_json(_content(raw_of(no)), known)


_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])


def extra_fields_json(text: bytes, known: frozenset[str]) -> bytes | None:
    """The fields of one JSON object line that are not in `known`, as a JSON object (or None).

    Values are kept as their raw JSON text (`msgspec.Raw`), never decoded, so a deeply nested or
    huge unknown value is copied, not recursed into.
    """
    fields = _TOP_LEVEL.decode(text)
    extra = {k: v for k, v in fields.items() if k not in known}
    return msgspec.json.encode(extra) if extra else None
