"""Parse one bronze object against its contract: bytes in, typed rows and quarantined lines out.

The fast path reads the whole object in one vectorised pyarrow call with the contract's schema.
Only when that fails (a bad line somewhere) does a typed per-line decoder (msgspec) classify the
lines, so the bad ones are isolated and the good ones go back through the same vectorised read.
Every path ends in the same post-checks, so whether a line is accepted never depends on the
other lines of its file.
"""

import csv
import gzip
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from lambda_bridge.contracts import EPOCH_UNITS, Contract

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b\x08"  # RFC 1952: ID1, ID2 and CM=8 (deflate), the only method
JSON_WHITESPACE = b" \t\r\n"
RAW_LIMIT = 64 * 1024
READ_BLOCK = 4 << 20
_INT64 = (-(2**63), 2**63 - 1)
_INT32 = (-(2**31), 2**31 - 1)


class ErrorCode(StrEnum):
    """Stable reason codes of quarantined lines (`_error_code`)."""

    JSON_DECODE = "json_decode"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_REQUIRED = "missing_required"
    TYPE_MISMATCH = "type_mismatch"
    ENCODING = "encoding"
    DUPLICATE_KEY = "duplicate_key"
    COLUMN_COUNT = "column_count"
    DECOMPRESS = "decompress"
    UNSUPPORTED_FORMAT = "unsupported_format"
    EXTRA_FIELD = "extra_field"
    LINE_TOO_LONG = "line_too_long"
    TOO_LARGE = "too_large"


@dataclass(frozen=True, slots=True)
class BadLine:
    """One input record that did not make it to silver, and why."""

    line: int
    code: ErrorCode
    error: str
    raw: bytes
    truncated: bool = False


@dataclass
class ParseResult:
    """What one object became: rows in the contract's exact schema, and quarantined lines."""

    table: pa.Table
    lines: np.ndarray
    bad: list[BadLine] = field(default_factory=list)
    lines_in: int = 0

    @property
    def rows_out(self) -> int:
        return self.table.num_rows

    @property
    def rows_quarantined(self) -> int:
        return len(self.bad)

    def counts_by_code(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for bad in self.bad:
            counts[bad.code.value] = counts.get(bad.code.value, 0) + 1
        return dict(sorted(counts.items()))


def parse_object(
    data: bytes, contract: Contract, fmt: str | None, max_bytes: int | None = None
) -> ParseResult:
    """Turn a bronze object's bytes into silver rows and quarantine records.

    Args:
        data: The object's bytes, gzip-compressed or not (detected by magic bytes).
        contract: The dataset's contract.
        fmt: `jsonl`, `json` or `csv` (from the key's extension), or None if unknown.
        max_bytes: The most bytes to hold once decompressed, or None for no limit; a larger
            object (a gzip bomb included) is quarantined whole as `too_large`, unread.

    Returns:
        A ParseResult with `lines_in == rows_out + rows_quarantined`.
    """
    if max_bytes is not None and len(data) > max_bytes:
        return too_large(contract, data[:RAW_LIMIT], len(data), max_bytes)
    if data[:3] == GZIP_MAGIC:
        try:
            data = _gunzip(data, max_bytes)
        except _TooLarge as exc:
            return too_large(contract, data[:RAW_LIMIT], exc.size, max_bytes or 0, "at least ")
        except (OSError, EOFError, zlib.error) as exc:
            return _whole_object(
                contract, data, ErrorCode.DECOMPRESS, f"cannot decompress gzip: {exc}"
            )
    if fmt is None or fmt not in contract.formats:
        accepted = ", ".join(contract.formats)
        problem = (
            f"format {fmt!r} is not accepted by dataset {contract.name!r} (accepts {accepted})"
        )
        return _whole_object(contract, data, ErrorCode.UNSUPPORTED_FORMAT, problem)
    if data.startswith(BOM):
        data = data[len(BOM) :]
    result = _parse_format(data, contract, fmt)
    _add_hints(result.bad, contract)
    return result


def _parse_format(data: bytes, contract: Contract, fmt: str) -> ParseResult:
    if fmt == "csv":
        return _parse_csv(data, contract)
    # `.jsonl`/`.ndjson` hold one record per line, always; only `.json` may be one document.
    head = _head(data, 1)
    if fmt == "json" and head == b"[":
        return _parse_json_document(data, contract)
    if fmt == "json" and head == b"{":
        try:
            doc = msgspec.json.decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            doc = None
        if isinstance(doc, dict):
            return _parse_lines([msgspec.json.encode(doc)], contract)
    return _parse_jsonl(data, contract)


_GOT_NUMBER = re.compile(r"got `(int|float)` - at `\$\.([A-Za-z0-9_]+)`$")


def _add_hints(bad: list[BadLine], contract: Contract) -> None:
    """Say how to fix the one type mismatch users hit most: epoch numbers in a timestamp column."""
    timestamps = {
        c.name
        for c in contract.columns
        if c.epoch_unit is None and pa.types.is_timestamp(c.arrow_type)
    }
    for i, line in enumerate(bad):
        found = _GOT_NUMBER.search(line.error) if line.code is ErrorCode.TYPE_MISMATCH else None
        if found and found.group(2) in timestamps:
            hint = (
                f"{line.error} (column {found.group(2)!r} takes ISO 8601 text; for epoch numbers "
                "declare epoch_unit: s, ms or us in the contract)"
            )
            bad[i] = BadLine(line.line, line.code, hint, line.raw, line.truncated)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _gunzip(data: bytes, limit: int | None = None) -> bytes:
    """Decompress every gzip member (producers appending to .gz files make several), stopping
    as soon as the output passes `limit`, so a gzip bomb never reaches memory."""
    if limit is None:
        return gzip.decompress(data)
    out = bytearray()
    rest = data
    while rest:
        member = zlib.decompressobj(wbits=31)  # one gzip member: header, deflate, CRC and size
        pending = rest
        while pending:
            out += member.decompress(pending, limit - len(out) + 1)
            if len(out) > limit:
                raise _TooLarge(len(out))
            pending = member.unconsumed_tail
        if not member.eof:
            msg = "Compressed file ended before the end-of-stream marker was reached"
            raise EOFError(msg)
        rest = member.unused_data.lstrip(b"\x00")  # gzip allows zero padding after a member
    return bytes(out)


def too_large(
    contract: Contract, head: bytes, size: int, limit: int, qualifier: str = ""
) -> ParseResult:
    """The whole object quarantined, unread past its first bytes: it would not fit in memory."""
    problem = (
        f"object of {qualifier}{size} bytes (decompressed) is over the transform's limit of "
        f"{limit} bytes (ELT_MAX_OBJECT_BYTES; by default a quarter of the function's memory): "
        "split it, or raise the limit with the memory, or replay it where memory allows"
    )
    bad = BadLine(1, ErrorCode.TOO_LARGE, problem, head[:RAW_LIMIT], truncated=True)
    return ParseResult(_empty(contract), np.empty(0, np.int64), [bad], lines_in=1)


def _whole_object(contract: Contract, data: bytes, code: ErrorCode, error: str) -> ParseResult:
    raw, truncated = data[:RAW_LIMIT], len(data) > RAW_LIMIT
    bad = BadLine(line=1, code=code, error=error, raw=raw, truncated=truncated)
    return ParseResult(_empty(contract), np.empty(0, np.int64), [bad], lines_in=1)


def _empty(contract: Contract) -> pa.Table:
    return contract.parsed_schema.empty_table()


# --------------------------------------------------------------------------------------------
# JSON


def _read_schema(contract: Contract) -> pa.Schema:
    """The schema pyarrow reads with: timestamps and dates as strings, cast afterwards per row."""
    fields = []
    for column in contract.columns:
        read_type = column.arrow_type
        if column.epoch_unit is not None:
            read_type = pa.float64()
        elif pa.types.is_timestamp(read_type) or pa.types.is_date(read_type):
            read_type = pa.string()
        fields.append(pa.field(column.name, read_type))
    return pa.schema(fields)


def _read_json(buf: bytes | memoryview, schema: pa.Schema, unexpected: str = "ignore") -> pa.Table:
    # Blocks of a few MB parse in parallel and stay in cache; a record longer than a block
    # ("straddling object") is read again with one block for the whole buffer.
    try:
        return _read_json_blocks(buf, schema, READ_BLOCK, unexpected)
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc) or len(buf) < READ_BLOCK:
            raise
    return _read_json_blocks(buf, schema, len(buf) + 1, unexpected)


def _read_json_blocks(
    buf: bytes | memoryview, schema: pa.Schema, block: int, unexpected: str
) -> pa.Table:
    return pj.read_json(
        pa.BufferReader(buf),
        read_options=pj.ReadOptions(block_size=block),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior=unexpected),
    )


def _has_long_line(data: bytes, limit: int) -> bool:
    """Whether some line may be longer than `limit`, probing every limit/2 bytes for a newline.

    A line longer than `limit` covers a whole probe window without a newline, so a clean file
    costs a few hundred `find` calls that each stop at the next newline; a window with no
    newline only says "maybe", and the line index gives the exact answer.
    """
    half = max(limit // 2, 1)
    if len(data) <= limit:
        return False
    return any(data.find(b"\n", p, p + half) < 0 for p in range(0, len(data) - half, half))


_FIRST_CONTENT = re.compile(rb"[^ \t\r\n]")


def _starts_with_null(data: bytes) -> bool:
    """A first value of `null` crashes pyarrow's reader; such files take the isolating path,
    where `null` is `not_an_object`. (A later `null` line reads as a row of nulls, which
    `_has_all_null_row` catches after the read.)"""
    return _head(data, 4) == b"null"


def _head(data: bytes, n: int) -> bytes:
    """The first `n` bytes after leading JSON whitespace (`lstrip` would copy the object)."""
    found = _FIRST_CONTENT.search(data)
    return data[found.start() : found.start() + n] if found else b""


def _has_all_null_row(table: pa.Table) -> bool:
    """Whether a row has every column null: a `null` line, or `{}` and the like. Rare, and
    told apart only line by line, so such files take the isolating path."""
    if table.num_rows == 0 or table.num_columns == 0:
        return False
    every = pc.is_null(table.column(0))
    for i in range(1, table.num_columns):
        every = pc.and_(every, pc.is_null(table.column(i)))
    return bool(pc.any(every).as_py())


def _scan(data: bytes, chunk: int = 1 << 18) -> tuple[int, bool]:
    """The newlines in `data` and whether it is all ASCII, in one pass three times faster than
    `data.count(b"\\n")`: numpy compares a chunk at a time into one small mask (a mask as large
    as the object costs more in page faults than the comparison), and checks each chunk's
    largest byte while it is in cache. ASCII is valid UTF-8, so most files need no other check.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    mask = np.empty(min(chunk, max(len(buf), 1)), dtype=bool)
    total, ascii = 0, True
    for start in range(0, len(buf), chunk):
        part = buf[start : start + chunk]
        np.equal(part, 10, out=mask[: len(part)])
        total += int(np.count_nonzero(mask[: len(part)]))
        if ascii and part.max() >= 0x80:
            ascii = False
    return total, ascii


def _is_utf8(data: bytes | memoryview) -> bool:
    """Whole-object UTF-8 check, zero-copy through Arrow's validator (several GB/s).

    pyarrow's JSON reader does not validate UTF-8, so without this a bad byte would reach
    silver; a file that fails takes the isolating path, where the line is `encoding`.
    """
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    view = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        view.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _parse_jsonl(data: bytes, contract: Contract) -> ParseResult:
    schema = _read_schema(contract)
    if _FIRST_CONTENT.search(data) is None:
        return ParseResult(_empty(contract), np.empty(0, np.int64), [], 0)
    newlines, ascii = _scan(data)
    utf8 = ascii or _is_utf8(data)
    long_lines = _has_long_line(data, contract.max_line_bytes)
    if utf8 and not long_lines and not _starts_with_null(data):
        # `reject` and `keep` first read with unknown fields as errors: a file without any
        # (the common case) then needs nothing more; `keep` reads again only when it has some.
        strict = contract.extra_fields != "drop"
        extras = False
        try:
            table = _read_json(data, schema, "error" if strict else "ignore")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            table = None
        if table is None and contract.extra_fields == "keep":
            extras = True
            try:
                table = _read_json(data, schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                table = None
        if table is not None and _has_all_null_row(table):
            table = None
        if table is not None:
            physical = newlines + (0 if data.endswith(b"\n") else 1)
            if physical == table.num_rows:  # one value per line, no blank line: the common case
                line_nos = np.arange(1, physical + 1, dtype=np.int64)
                raw = _lazy_raw(data)
                return _finish(
                    table,
                    line_nos,
                    contract,
                    raw,
                    [],
                    physical,
                    _extras_of(raw, contract) if extras else None,
                )
            index = _LineIndex(data)
            if len(index.numbers) == table.num_rows and not index.special:
                extra_of = _extras_of(index.raw, contract) if extras else None
                return _finish(
                    table, index.numbers, contract, index.raw, [], table.num_rows, extra_of
                )
    return _parse_isolating(data, contract, utf8)


def _lazy_raw(data: bytes) -> Callable[[int], bytes]:
    """Raw lines by number, indexing the object only if a row is actually quarantined."""
    built: list[_LineIndex] = []

    def raw(no: int) -> bytes:
        if not built:
            built.append(_LineIndex(data))
        return built[0].raw(no)

    return raw


def _newlines(buf: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    """Offsets of every newline. Chunked through one small mask: a mask as large as the object
    costs more in fresh memory (page faults) than the comparison itself."""
    mask = np.empty(min(chunk, max(len(buf), 1)), dtype=bool)
    found = []
    for start in range(0, len(buf), chunk):
        part = buf[start : start + chunk]
        np.equal(part, 10, out=mask[: len(part)])
        found.append(np.flatnonzero(mask[: len(part)]) + start)
    return np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)


class _LineIndex:
    """Where each non-blank physical line of an object starts and ends, built with numpy.

    Attributes:
        starts, ends: Byte offsets of the non-blank lines (ends exclude the newline).
        numbers: Their 1-based physical line numbers.
        special: Positions (into the arrays) of lines that start with a BOM: valid JSON only
            once the BOM is stripped, so they are handled one by one.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        buf = np.frombuffer(data, dtype=np.uint8)
        newlines = _newlines(buf)
        starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
        ends = np.concatenate((newlines, [len(buf)])).astype(np.int64)
        numbers = np.arange(1, len(starts) + 1, dtype=np.int64)
        nonempty = starts < ends
        first = buf[np.minimum(starts, max(len(buf) - 1, 0))] if len(buf) else np.zeros(0, np.uint8)
        # Most lines start with their content; only those starting with whitespace or a BOM
        # byte need a closer look, one by one.
        unusual = nonempty & np.isin(first, (32, 9, 13, 0xEF))
        keep = nonempty & ~unusual
        special: list[int] = []
        for i in np.flatnonzero(unusual):
            line = data[starts[i] : ends[i]]
            if _content(line):
                keep[i] = True
                if line.strip(JSON_WHITESPACE).startswith(BOM):
                    special.append(i)
        positions = np.flatnonzero(keep)
        self.starts, self.ends, self.numbers = (
            starts[positions],
            ends[positions],
            numbers[positions],
        )
        self.special = [int(k) for k in np.searchsorted(positions, special)] if special else []

    def raw(self, no: int) -> bytes:
        k = int(np.searchsorted(self.numbers, no))
        return self.data[self.starts[k] : self.ends[k]].rstrip(b"\r")

    def line(self, k: int) -> bytes:
        return self.data[self.starts[k] : self.ends[k]]


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


def _too_long(size: int, contract: Contract) -> tuple[ErrorCode, str]:
    limit = contract.max_line_bytes
    return ErrorCode.LINE_TOO_LONG, (
        f"line of {size} bytes is over the dataset's limit of {limit} bytes (max_line_bytes)"
    )


def _bad_line(no: int, code: ErrorCode, error: str, raw: bytes) -> BadLine:
    """A quarantined line; its raw text is cut to RAW_LIMIT bytes (and says so) when longer."""
    raw = raw.rstrip(b"\r")
    if len(raw) > RAW_LIMIT:
        return BadLine(no, code, error, raw[:RAW_LIMIT], truncated=True)
    return BadLine(no, code, error, raw)


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


def _parse_json_document(data: bytes, contract: Contract) -> ParseResult:
    """A JSON array of records (or one object): each element is one record."""
    try:
        doc = msgspec.json.decode(data)
    except UnicodeDecodeError as exc:
        return _whole_object(contract, data, ErrorCode.ENCODING, f"not UTF-8: {exc}")
    except msgspec.DecodeError as exc:
        return _whole_object(
            contract, data, ErrorCode.JSON_DECODE, f"not a valid JSON document: {exc}"
        )
    except RecursionError:
        return _whole_object(contract, data, ErrorCode.JSON_DECODE, _TOO_DEEP)
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        problem = f"a JSON document must be an array of objects, got {type(doc).__name__}"
        return _whole_object(contract, data, ErrorCode.NOT_AN_OBJECT, problem)
    return _parse_lines([msgspec.json.encode(element) for element in doc], contract)


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


def _content(line: bytes) -> bytes:
    """A line without surrounding JSON whitespace or a leading BOM (an encoding marker, not
    content: a line of only a BOM is blank)."""
    text = line.strip(JSON_WHITESPACE)
    if text.startswith(BOM):
        text = text[len(BOM) :].lstrip(JSON_WHITESPACE)
    return text


def _classify(decoder: msgspec.json.Decoder, text: bytes) -> tuple[ErrorCode, str] | None:
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ErrorCode.ENCODING, f"not UTF-8: {exc.reason} at byte {exc.start}"
    try:
        decoder.decode(text)
    except RecursionError:
        return ErrorCode.JSON_DECODE, _TOO_DEEP
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
_TOO_DEEP = "invalid JSON: nested deeper than the decoder's limit"
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
        py_type = float if column.epoch_unit else _python_type(column.arrow_type, top_level=True)
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


def _python_type(arrow_type: pa.DataType, top_level: bool = False) -> Any:
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


# --------------------------------------------------------------------------------------------
# CSV


def _parse_csv(data: bytes, contract: Contract) -> ParseResult:
    """CSV with a header row; each data row is one record, `_line` is where the row starts."""
    text = data.decode("utf-8", errors="surrogateescape")
    physical = text.split("\n")
    consumed: list[tuple[int, str]] = []

    def feed():
        for no, line in enumerate(physical, 1):
            consumed.append((no, line))
            yield line + "\n"

    reader = csv.reader(feed(), delimiter=contract.csv_delimiter, strict=False)
    header: list[str] | None = None
    names = contract.column_names
    columns: dict[str, list[str | None]] = {name: [] for name in names}
    nos: list[int] = []
    raws: dict[int, bytes] = {}
    extras: dict[int, bytes | None] = {}
    unknown: list[tuple[int, str]] = []
    bad: list[BadLine] = []
    lines_in = 0
    try:
        for row in reader:
            chunk = consumed[:]
            consumed.clear()
            raw_text = "\n".join(line for _, line in chunk).rstrip("\r\n")
            if not raw_text.strip() or not row:
                continue
            start = chunk[0][0]
            if header is None:
                header = [h.strip().lstrip("\ufeff") for h in row]
                index = {name: header.index(name) for name in names if name in header}
                unknown = [(i, h) for i, h in enumerate(header) if h not in names]
                continue
            lines_in += 1
            raw = raw_text.encode("utf-8", errors="surrogateescape")
            if len(raw) > contract.max_line_bytes:
                code, problem = _too_long(len(raw), contract)
                bad.append(_bad_line(start, code, problem, raw))
                continue
            if _has_surrogates(raw_text):
                bad.append(BadLine(start, ErrorCode.ENCODING, "not UTF-8", raw))
                continue
            if len(row) != len(header):
                problem = f"expected {len(header)} fields as in the header, got {len(row)}"
                bad.append(BadLine(start, ErrorCode.COLUMN_COUNT, problem, raw))
                continue
            if unknown and contract.extra_fields == "reject":
                listed = ", ".join(repr(h) for _, h in unknown)
                problem = f"column(s) {listed} not in the contract; the dataset rejects them"
                bad.append(BadLine(start, ErrorCode.EXTRA_FIELD, problem, raw))
                continue
            if unknown and contract.extra_fields == "keep":
                extra = {h: (row[i] if row[i] != "" else None) for i, h in unknown}
                extras[start] = msgspec.json.encode(extra)
            nos.append(start)
            raws[start] = raw
            for name in names:
                position = index.get(name)
                value = row[position] if position is not None else None
                columns[name].append(value if value != "" else None)
    except csv.Error as exc:
        # A broken quote runs to the end of the file: what remains is one bad record.
        chunk = consumed[:]
        raw_text = "\n".join(line for _, line in chunk)
        lines_in += 1
        start = chunk[0][0] if chunk else len(physical)
        bad.append(
            BadLine(
                start,
                ErrorCode.COLUMN_COUNT,
                f"unreadable CSV: {exc}",
                raw_text.encode("utf-8", "surrogateescape"),
            )
        )
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    line_nos = np.asarray(nos, dtype=np.int64)
    return _finish(table, line_nos, contract, raws.__getitem__, bad, lines_in, extras.get)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --------------------------------------------------------------------------------------------
# Post-checks shared by every path


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
                    unreadable[i], why[int(i)] = True, _TOO_DEEP
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


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


_CAST_PATTERNS = {
    "int": r"^[+-]?\d+$",
    "float": r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$",
    "bool": r"^(?i:true|false|1|0)$",
    # Field ranges in the screen keep impossible values (month 13, hour 99) from reaching the
    # bisecting cast; only the rare calendar error (February 30) gets that far.
    "date": r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
    "timestamp": (
        r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3])"
        r"(:[0-5]\d(:([0-5]\d|60)(\.\d{1,9})?)?)?(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?$"
    ),
    "decimal": r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$",
}
_OFFSET = r"(Z|[+-]\d{2}(:?\d{2})?)$"


def _pattern_for(target: pa.DataType) -> str | None:
    if pa.types.is_integer(target):
        return _CAST_PATTERNS["int"]
    if pa.types.is_floating(target):
        return _CAST_PATTERNS["float"]
    if pa.types.is_boolean(target):
        return _CAST_PATTERNS["bool"]
    if pa.types.is_date(target):
        return _CAST_PATTERNS["date"]
    if pa.types.is_timestamp(target):
        return _CAST_PATTERNS["timestamp"]
    if pa.types.is_decimal(target):
        return _CAST_PATTERNS["decimal"]
    return None


def cast_strings(
    values: pa.Array | pa.ChunkedArray, target: pa.DataType, naive_as_utc: bool = True
) -> tuple[pa.Array | pa.ChunkedArray, np.ndarray]:
    """Cast a string column to `target`, returning the cast values and a mask of rows that failed.

    Rows that fail become null in the result. Syntax is screened with a vectorised regex; the
    rare value that passes the screen but still fails (month 13, an int64 overflow) is found by
    bisecting the cast, so one bad value never costs a per-row Python loop over the column.
    """
    n = len(values)
    if pa.types.is_string(target):
        return values, np.zeros(n, dtype=bool)
    if not pa.types.is_boolean(target):
        # The common case, every value well formed, costs one cast; screening only on failure.
        try:
            return pc.cast(values, target), np.zeros(n, dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    failed = np.zeros(n, dtype=bool)
    present = _mask(pc.is_valid(values))
    pattern = _pattern_for(target)
    if pattern is not None:
        matches = _mask(pc.match_substring_regex(values, pattern))
        failed |= present & ~matches
        if failed.any():
            values = pc.if_else(pa.array(failed), pa.scalar(None, pa.string()), values)
    if pa.types.is_boolean(target):
        values = pc.utf8_lower(values)
    if pa.types.is_timestamp(target) and target.tz is not None:
        # Once the screen has nulled the malformed values, one cast usually succeeds: a string
        # without an offset fails a cast to a zoned type, so success means there were none, and
        # the second regex below (naive or not) is needed only when the cast fails.
        try:
            return _null_where(pc.cast(values, target), failed), failed
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        has_offset = _mask(pc.match_substring_regex(values, _OFFSET))
        naive = present & ~failed & ~has_offset
        if naive.any():
            if not naive_as_utc:
                failed |= naive
            else:
                # A timestamp without an offset is read as UTC (the contract's naive_timestamps).
                naive_cast, naive_failed = _bisect_cast(
                    pc.if_else(pa.array(naive), values, pa.scalar(None, pa.string())),
                    pa.timestamp(target.unit),
                )
                failed |= naive_failed
                aware_in = pc.if_else(pa.array(naive), pa.scalar(None, pa.string()), values)
                aware, aware_failed = _bisect_cast(aware_in, target)
                failed |= aware_failed
                merged = pc.if_else(pa.array(naive), naive_cast.cast(target), aware)
                return _null_where(merged, failed), failed
    cast, cast_failed = _bisect_cast(values, target)
    failed |= cast_failed
    return _null_where(cast, failed), failed


def epoch_to_timestamp(
    values: pa.Array, unit: str, target: pa.DataType
) -> tuple[pa.Array, np.ndarray]:
    """Epoch numbers (seconds, milliseconds or microseconds; text from CSV) to UTC timestamps.

    Returns the timestamps and a mask of rows that are not numbers or fall outside what a
    microsecond timestamp can hold; those rows are null in the result.
    """
    failed = np.zeros(len(values), dtype=bool)
    if not pa.types.is_floating(values.type):
        values, failed = cast_strings(values, pa.float64())
    micros = pc.multiply(values.cast(pa.float64()), float(EPOCH_UNITS[unit]))
    # Inside +-2^62 microseconds (+-146k years) the rounded value always fits an int64.
    fits = _mask(pc.less_equal(pc.abs(micros), float(2**62)))
    failed |= _mask(pc.is_valid(values)) & ~fits
    micros = _null_where(micros, failed)
    as_int = pc.round(micros).cast(pa.int64())
    return as_int.cast(pa.timestamp("us")).cast(target), failed


def _null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def _bisect_cast(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    failed = np.zeros(len(values), dtype=bool)
    pieces: list[pa.Array] = []

    def attempt(lo: int, hi: int) -> None:
        part = values.slice(lo, hi - lo)
        try:
            pieces.append(pc.cast(part, target))
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            if hi - lo == 1:
                failed[lo] = True
                pieces.append(pa.nulls(1, target))
                return
        mid = (lo + hi) // 2
        attempt(lo, mid)
        attempt(mid, hi)

    if len(values):
        attempt(0, len(values))
    else:
        pieces.append(pa.array([], target))
    return pa.concat_arrays(pieces), failed
