"""JSON Lines, isolating path: find the bad lines with a typed msgspec decoder, read the rest.

Taken only when the fast path cannot trust its read (a bad line somewhere); the good lines go
back through the same vectorised read, and every line ends in the same post-checks. The plain
per-line path (`_parse_lines`, also used for the elements of a `.json` document) is here too.
"""

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any

import msgspec
import numpy as np
import pyarrow as pa

from lambda_bridge.contracts import Contract
from lambda_bridge.parse.finish import _extras_of, _finish
from lambda_bridge.parse.lines import _content, _LineIndex, _read_json, _read_schema
from lambda_bridge.parse.result import (
    TOO_DEEP,
    BadLine,
    ErrorCode,
    ParseResult,
    _bad_line,
    _too_long,
)

_INT64 = (-(2**63), 2**63 - 1)
_INT32 = (-(2**31), 2**31 - 1)
_ELEMENT = re.compile(r"\$\[(\d+)\]")
_BYTE = re.compile(r"\(byte (\d+)\)")
_UTF8_CHUNK = 8192


def _parse_isolating(data: bytes, contract: Contract, utf8: bool) -> ParseResult:
    """Find the bad lines without a Python loop over every line, then read the rest vectorised.

    msgspec's `decode_lines` validates a run of lines in one C call and stops at the first bad
    one; that line is confirmed by the same per-line classifier as everywhere else, and decoding
    resumes after it. Anything unexpected falls back to the plain per-line path.
    """
    index = _LineIndex(data)
    decoder = _decoder(contract)
    # A file of bad lines repeats a handful of messages: keep one copy of each, not one a line.
    texts: dict[str, str] = {}

    def classify(k: int) -> tuple[ErrorCode, str] | None:
        verdict = _classify(decoder, _content(index.line(k)))
        return None if verdict is None else (verdict[0], texts.setdefault(verdict[1], verdict[1]))

    n = len(index.numbers)
    excluded: dict[int, tuple[ErrorCode, str] | None] = {}
    too_long = np.flatnonzero(index.ends - index.starts > contract.max_line_bytes)
    for k in too_long:
        excluded[int(k)] = _too_long(int(index.ends[k] - index.starts[k]), contract)
    if not utf8:
        for k in _lines_with_invalid_utf8(data, index):
            excluded.setdefault(k, classify(k))
    for k in index.special:
        excluded.setdefault(k, classify(k))
    bad: dict[int, tuple[ErrorCode, str]] = {k: v for k, v in excluded.items() if v is not None}
    runs, start = [], 0
    for k in sorted(excluded):
        runs.append((start, k))
        start = k + 1
    runs.append((start, n))
    view = memoryview(data)
    good_runs: list[tuple[int, int]] = []
    for lo, hi in runs:
        i = lo
        while i < hi:
            try:
                decoder.decode_lines(view[index.starts[i] : index.ends[hi - 1]])
            except msgspec.ValidationError as exc:
                found = _ELEMENT.search(str(exc))
                candidates = [i + int(found.group(1))] if found else []
            except msgspec.DecodeError as exc:
                found = _BYTE.search(str(exc))
                at = index.starts[i] + int(found.group(1)) if found else index.ends[hi - 1]
                j = int(np.searchsorted(index.starts, at, side="right")) - 1
                candidates = [c for c in (j - 1, j) if i <= c < hi]
            except (UnicodeDecodeError, RecursionError):
                candidates = []
            else:
                good_runs.append((i, hi))
                break
            flagged = []
            for c in candidates:
                verdict = classify(c)
                if verdict is not None:
                    bad[c] = verdict
                    flagged.append(c)
            if not flagged:  # the error did not point at a line that is bad on its own
                return _parse_lines(data.split(b"\n"), contract)
            if flagged[0] > i:
                good_runs.append((i, flagged[0]))
            i = flagged[-1] + 1
    specials_ok = [k for k in index.special if k not in bad]
    pieces: list[tuple[int, bytes | memoryview, np.ndarray]] = [
        (lo, view[index.starts[lo] : index.ends[hi - 1]], index.numbers[lo:hi])
        for lo, hi in good_runs
        if hi > lo
    ]
    pieces += [(k, _content(index.line(k)), index.numbers[k : k + 1]) for k in specials_ok]
    pieces.sort(key=lambda piece: piece[0])
    lines_in = n
    bad_lines = [_bad_line(int(index.numbers[k]), *bad[k], index.line(k)) for k in sorted(bad)]
    bad.clear()  # a file of bad lines holds a million entries here: free them before the read
    schema = _read_schema(contract)
    line_nos = np.concatenate([p[2] for p in pieces]) if pieces else np.empty(0, np.int64)
    try:
        table = _read_runs([p[1] for p in pieces], schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        table = None
    if table is None or table.num_rows != len(line_nos):
        # pyarrow is stricter than msgspec here (a duplicate key, two values on a line):
        # read the good lines one by one where they disagree.
        tables: list[pa.Table] = []
        nos: list[int] = []
        lines = [_content(index.raw(int(no))) for no in line_nos]
        _read_isolating(lines, [int(no) for no in line_nos], schema, tables, nos, bad_lines)
        table = pa.concat_tables(tables) if tables else schema.empty_table()
        line_nos = np.asarray(nos, dtype=np.int64)
    extra_of = _extras_of(index.raw, contract) if contract.extra_fields == "keep" else None
    return _finish(table, line_nos, contract, index.raw, bad_lines, lines_in, extra_of)


_JOIN_BYTES = 32 << 20


def _read_runs(runs: list[bytes | memoryview], schema: pa.Schema) -> pa.Table:
    """Read runs of good lines as one table, joining ~32 MB of them at a time: a copy of all
    the good lines at once would add the object's size again to the peak memory."""
    tables, group, size = [], [], 0
    for run in runs:
        group.append(run)
        size += len(run)
        if size >= _JOIN_BYTES:
            tables.append(_read_json(b"\n".join(group), schema))
            group, size = [], 0
    if group:
        tables.append(_read_json(b"\n".join(group), schema))
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _lines_with_invalid_utf8(data: bytes, index: _LineIndex) -> list[int]:
    """Lines holding bytes that are not UTF-8, checked a few KB at a time (most chunks pass);
    in a chunk that fails, the decoder's error offset names the line, and decoding resumes
    after it, so the cost is one decode per bad line, not one per line of the chunk."""
    found: list[int] = []
    view = memoryview(data)
    pos, size = 0, len(data)
    while pos < size:
        end = data.find(b"\n", min(pos + _UTF8_CHUNK, size))
        end = size if end < 0 else end
        while pos < end:
            try:
                str(view[pos:end], "utf-8")
            except UnicodeDecodeError as exc:
                at = pos + exc.start
                k = int(np.searchsorted(index.starts, at, side="right")) - 1
                if k < 0 or not index.starts[k] <= at < max(index.ends[k], index.starts[k] + 1):
                    # Not inside an indexed line (blank lines are ASCII, so this should not
                    # happen): check each remaining line of the chunk on its own.
                    lo = int(np.searchsorted(index.starts, pos))
                    hi = int(np.searchsorted(index.starts, end, side="right"))
                    found.extend(k for k in range(lo, hi) if not _utf8_ok(index.line(k)))
                    break
                found.append(k)
                pos = int(index.ends[k]) + 1
            else:
                break
        pos = end + 1
    return found


def _utf8_ok(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parse_lines(lines: Sequence[bytes], contract: Contract) -> ParseResult:
    """The per-line path: classify each line, then read the good ones vectorised."""
    decoder = _decoder(contract)
    good: list[bytes] = []
    good_nos: list[int] = []
    bad: list[BadLine] = []
    lines_in = 0
    for no, line in enumerate(lines, 1):
        text = _content(line)
        if not text:
            continue
        lines_in += 1
        if len(line) > contract.max_line_bytes:
            problem: tuple[ErrorCode, str] | None = _too_long(len(line), contract)
        else:
            problem = _classify(decoder, text)
        if problem is None:
            good.append(text)
            good_nos.append(no)
        else:
            bad.append(_bad_line(no, problem[0], problem[1], line))
    tables: list[pa.Table] = []
    table_nos: list[int] = []
    schema = _read_schema(contract)
    _read_isolating(good, good_nos, schema, tables, table_nos, bad)
    table = pa.concat_tables(tables) if tables else schema.empty_table()

    def raw_of(no: int) -> bytes:
        return lines[no - 1].rstrip(b"\r")

    extra_of = _extras_of(raw_of, contract) if contract.extra_fields == "keep" else None
    nos = np.asarray(table_nos, dtype=np.int64)
    return _finish(table, nos, contract, raw_of, bad, lines_in, extra_of)


def _classify(decoder: msgspec.json.Decoder, text: bytes) -> tuple[ErrorCode, str] | None:
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ErrorCode.ENCODING, f"not UTF-8: {exc.reason} at byte {exc.start}"
    try:
        decoder.decode(text)
    except RecursionError:
        return ErrorCode.JSON_DECODE, TOO_DEEP
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
        message = str(exc)
        if message.startswith("Expected `object`") and " - at `" not in message:
            return ErrorCode.NOT_AN_OBJECT, f"a record must be a JSON object: {message}"
        if _UNKNOWN_FIELD.match(message):
            return (
                ErrorCode.EXTRA_FIELD,
                f"{message}; the dataset rejects fields not in its contract",
            )
        if "missing required field" in message or _TOP_LEVEL_NULL.search(message):
            return ErrorCode.MISSING_REQUIRED, message
        return ErrorCode.TYPE_MISMATCH, message
    except msgspec.DecodeError as exc:
        return ErrorCode.JSON_DECODE, f"invalid JSON: {exc}"
    return None


_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `[^`]*`$")
_TOP_LEVEL_NULL = re.compile(r"got `null` - at `\$\.[A-Za-z0-9_]+`$")


def _read_isolating(
    lines: list[bytes],
    nos: list[int],
    schema: pa.Schema,
    tables: list[pa.Table],
    table_nos: list[int],
    bad: list[BadLine],
) -> None:
    """Read lines vectorised; where pyarrow is stricter than the classifier, bisect to the line."""
    if not lines:
        return
    code = ErrorCode.TYPE_MISMATCH
    try:
        table = _read_json(b"\n".join(lines), schema)
        if table.num_rows != len(lines):
            code, problem = ErrorCode.JSON_DECODE, "more than one JSON value on the line"
        else:
            tables.append(table)
            table_nos.extend(nos)
            return
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        problem = str(exc)
        if "specified twice" in problem:
            code = ErrorCode.DUPLICATE_KEY
        elif "parse error" in problem and "changed from" not in problem:
            code = ErrorCode.JSON_DECODE
    if len(lines) == 1:
        bad.append(BadLine(nos[0], code, problem, lines[0]))
        return
    mid = len(lines) // 2
    _read_isolating(lines[:mid], nos[:mid], schema, tables, table_nos, bad)
    _read_isolating(lines[mid:], nos[mid:], schema, tables, table_nos, bad)


@lru_cache(maxsize=64)
def _decoder(contract: Contract) -> msgspec.json.Decoder:
    """A typed msgspec decoder that accepts exactly what the contract's read schema accepts."""
    fields: list[tuple[str, Any, Any] | tuple[str, Any]] = []
    rename: dict[str, str] = {}
    for i, column in enumerate(contract.columns):
        attr = f"f{i}"
        rename[attr] = column.name
        py_type = float if column.epoch_unit else _python_type(column.arrow_type)
        if column.required:
            fields.append((attr, py_type))
        else:
            fields.append((attr, py_type | None, None))
    struct = msgspec.defstruct(
        f"Record_{contract.name}",
        fields,
        rename=rename,
        forbid_unknown_fields=contract.extra_fields == "reject",
        # Decoded JSON cannot form a reference cycle, so the collector need not track the
        # records: the screen of a file with bad lines decodes every line (~10% faster).
        gc=False,
    )
    return msgspec.json.Decoder(struct)


def _python_type(arrow_type: pa.DataType) -> Any:
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_timestamp(arrow_type)
        or pa.types.is_date(arrow_type)
    ):
        return str
    if pa.types.is_int64(arrow_type):
        return Annotated[int, msgspec.Meta(ge=_INT64[0], le=_INT64[1])]
    if pa.types.is_int32(arrow_type):
        return Annotated[int, msgspec.Meta(ge=_INT32[0], le=_INT32[1])]
    if pa.types.is_floating(arrow_type):
        return float
    if pa.types.is_boolean(arrow_type):
        return bool
    if pa.types.is_decimal(arrow_type):
        return str | float | int
    if pa.types.is_list(arrow_type):
        return list[_python_type(arrow_type.value_type) | None]  # type: ignore[misc]
    if pa.types.is_struct(arrow_type):
        sub = [
            (f"f{i}", _python_type(arrow_type.field(i).type) | None, None)
            for i in range(arrow_type.num_fields)
        ]
        names = {f"f{i}": arrow_type.field(i).name for i in range(arrow_type.num_fields)}
        return msgspec.defstruct("Nested", sub, rename=names)
    msg = f"no decoder for Arrow type {arrow_type}"
    raise TypeError(msg)
