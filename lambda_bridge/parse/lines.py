"""The building blocks every JSON path shares: where an object's lines are, and pyarrow's read.

pyarrow reads with the contract's schema, except that timestamps and dates are read as text (and
epoch numbers as floats) and cast afterwards in `finish`, where a bad value fails its own row
rather than the whole read.
"""

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from lambda_bridge.contracts import Contract
from lambda_bridge.parse.result import BOM, JSON_WHITESPACE

READ_BLOCK = 4 << 20


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


def _content(line: bytes) -> bytes:
    """A line without surrounding JSON whitespace or a leading BOM (an encoding marker, not
    content: a line of only a BOM is blank)."""
    text = line.strip(JSON_WHITESPACE)
    if text.startswith(BOM):
        text = text[len(BOM) :].lstrip(JSON_WHITESPACE)
    return text
