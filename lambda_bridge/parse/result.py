"""What parsing produces: typed rows, quarantined lines and their reason codes.

Also the results that quarantine a whole object (unreadable, unsupported, too large, out of
time), which every path may return.
"""

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pyarrow as pa

from lambda_bridge.contracts import Contract

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b\x08"  # RFC 1952: ID1, ID2 and CM=8 (deflate), the only method
JSON_WHITESPACE = b" \t\r\n"
RAW_LIMIT = 64 * 1024
TOO_DEEP = "invalid JSON: nested deeper than the decoder's limit"


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


def too_large(
    contract: Contract, head: bytes, size: int, limit: int, qualifier: str = ""
) -> ParseResult:
    """The whole object quarantined, unread past its first bytes: it would not fit in memory."""
    problem = (
        f"object of {qualifier}{size} bytes (decompressed) is over the transform's limit of "
        f"{limit} bytes (ELT_MAX_OBJECT_BYTES; by default a quarter of the function's memory): "
        "split it, or raise the limit with the memory, or replay it where memory allows"
    )
    return _unread(contract, head, problem)


def out_of_time(contract: Contract, head: bytes, seconds: float, done: int) -> ParseResult:
    """The whole object quarantined: streaming it did not finish within the function's time."""
    problem = (
        f"object could not be transformed within the function's time: {done} bytes "
        f"(decompressed) read in {seconds:.0f} s when it ran out; give the function more time "
        "(up to 15 minutes), or split the object, or replay it (a replay has no time limit)"
    )
    return _unread(contract, head, problem)


def record_too_large(
    contract: Contract, head: bytes, line: int, size: int, limit: int
) -> ParseResult:
    """The whole object quarantined: one record of it is longer than a streamed object may hold."""
    problem = (
        f"the record at line {line} is at least {size} bytes, over the transform's limit of "
        f"{limit} bytes (ELT_MAX_OBJECT_BYTES) for what it holds at once: a streamed object is "
        "held a record at a time, and this one alone does not fit; split it, or raise the "
        "limit with the memory"
    )
    return _unread(contract, head, problem)


def _unread(contract: Contract, head: bytes, problem: str) -> ParseResult:
    bad = BadLine(1, ErrorCode.TOO_LARGE, problem, head[:RAW_LIMIT], truncated=True)
    return ParseResult(_empty(contract), np.empty(0, np.int64), [bad], lines_in=1)


def unreadable_gzip(contract: Contract, data: bytes, exc: Exception) -> ParseResult:
    """The whole object quarantined: it is not gzip it can read (`data`: its first bytes, at
    least RAW_LIMIT + 1 of them when there are more)."""
    return _whole_object(contract, data, ErrorCode.DECOMPRESS, f"cannot decompress gzip: {exc}")


def _whole_object(contract: Contract, data: bytes, code: ErrorCode, error: str) -> ParseResult:
    raw, truncated = data[:RAW_LIMIT], len(data) > RAW_LIMIT
    bad = BadLine(line=1, code=code, error=error, raw=raw, truncated=truncated)
    return ParseResult(_empty(contract), np.empty(0, np.int64), [bad], lines_in=1)


def _empty(contract: Contract) -> pa.Table:
    return contract.parsed_schema.empty_table()


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
