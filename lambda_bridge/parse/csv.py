"""CSV with a header row: each data row is one record.

A block of a streamed object (DESIGN §12) goes through the same reader: `_read_csv` takes the
header an earlier block found and, for a block that is not the object's last, stops before a
record the block's end cuts (a field quoted across it), which the next block then starts with.
"""

import csv
from dataclasses import dataclass

import msgspec
import numpy as np
import pyarrow as pa

from lambda_bridge.contracts import Contract
from lambda_bridge.parse.finish import _finish
from lambda_bridge.parse.result import BadLine, ErrorCode, ParseResult, _bad_line, _too_long


@dataclass
class CsvRead:
    """What `_read_csv` read.

    Attributes:
        result: The records read.
        header: The header row, found in the data or given.
        rest: The 1-based line where a record starts that the data ends inside (left unread);
            None when the data ends between records.
    """

    result: ParseResult
    header: list[str] | None
    rest: int | None = None


def _parse_csv(data: bytes, contract: Contract) -> ParseResult:
    """CSV with a header row; each data row is one record, `_line` is where the row starts."""
    return _read_csv(data, contract).result


def _read_csv(
    data: bytes, contract: Contract, header: list[str] | None = None, final: bool = True
) -> CsvRead:
    """Read CSV records; `header` is one found before `data` (else the first record is it).

    Unless `final`, `data` ends with a newline and is followed by more of the object: a record
    still inside quotes at its end is not read, and `rest` says where it starts.
    """
    text = data.decode("utf-8", errors="surrogateescape")
    physical = text.split("\n")
    if not final and text.endswith("\n"):
        physical.pop()  # not an empty last line: the next block's first line
    consumed: list[tuple[int, str]] = []
    ended = [False]

    def feed():
        for no, line in enumerate(physical, 1):
            consumed.append((no, line))
            yield line + "\n"
        ended[0] = True

    reader = csv.reader(feed(), delimiter=contract.csv_delimiter, strict=False)
    rows = _Rows(contract, header)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The reader drops the rest of a line it cannot read (a stray CR, a field over its
            # size limit, as a broken quote makes): that record is bad, the next line is read.
            rows.unreadable(consumed[:], exc, len(physical))
            consumed.clear()
            continue
        chunk = consumed[:]
        consumed.clear()
        if ended[0] and not final:  # the data ended inside this record's quotes
            return CsvRead(rows.result(), rows.header, chunk[0][0])
        rows.add(chunk, row)
    return CsvRead(rows.result(), rows.header)


class _Rows:
    """The records of one read: the good ones column by column, the bad ones with a reason."""

    def __init__(self, contract: Contract, header: list[str] | None) -> None:
        self.contract = contract
        self.names = contract.column_names
        self.columns: dict[str, list[str | None]] = {name: [] for name in self.names}
        self.nos: list[int] = []
        self.raws: dict[int, bytes] = {}
        self.extras: dict[int, bytes | None] = {}
        self.bad: list[BadLine] = []
        self.lines_in = 0
        self.header: list[str] | None = None
        self.index: dict[str, int] = {}
        self.unknown: list[tuple[int, str]] = []
        if header is not None:
            self._set_header(header)

    def _set_header(self, header: list[str]) -> None:
        self.header = header
        self.index = {name: header.index(name) for name in self.names if name in header}
        self.unknown = [(i, h) for i, h in enumerate(header) if h not in self.names]

    def add(self, chunk: list[tuple[int, str]], row: list[str]) -> None:
        """One record the reader returned: `chunk` holds its physical lines."""
        raw_text = "\n".join(line for _, line in chunk).rstrip("\r\n")
        if not raw_text.strip() or not row:
            return
        start = chunk[0][0]
        if self.header is None:
            self._set_header([h.strip().lstrip("\ufeff") for h in row])
            return
        self.lines_in += 1
        raw = raw_text.encode("utf-8", errors="surrogateescape")
        problem = self._problem(start, raw, raw_text, row)
        if problem is not None:
            self.bad.append(problem)
            return
        contract, unknown = self.contract, self.unknown
        if unknown and contract.extra_fields == "keep":
            extra = {h: (row[i] if row[i] != "" else None) for i, h in unknown}
            self.extras[start] = msgspec.json.encode(extra)
        self.nos.append(start)
        self.raws[start] = raw
        for name in self.names:
            position = self.index.get(name)
            value = row[position] if position is not None else None
            self.columns[name].append(value if value != "" else None)

    def _problem(self, start: int, raw: bytes, raw_text: str, row: list[str]) -> BadLine | None:
        contract, header = self.contract, self.header or []
        if len(raw) > contract.max_line_bytes:
            code, problem = _too_long(len(raw), contract)
            return _bad_line(start, code, problem, raw)
        if _has_surrogates(raw_text):
            return BadLine(start, ErrorCode.ENCODING, "not UTF-8", raw)
        if len(row) != len(header):
            problem = f"expected {len(header)} fields as in the header, got {len(row)}"
            return BadLine(start, ErrorCode.COLUMN_COUNT, problem, raw)
        if self.unknown and contract.extra_fields == "reject":
            listed = ", ".join(repr(h) for _, h in self.unknown)
            problem = f"column(s) {listed} not in the contract; the dataset rejects them"
            return BadLine(start, ErrorCode.EXTRA_FIELD, problem, raw)
        return None

    def unreadable(self, chunk: list[tuple[int, str]], exc: csv.Error, lines: int) -> None:
        """A record the reader gave up on: one bad record of the lines it had read."""
        raw_text = "\n".join(line for _, line in chunk)
        self.lines_in += 1
        start = chunk[0][0] if chunk else lines
        raw = raw_text.encode("utf-8", "surrogateescape")
        self.bad.append(BadLine(start, ErrorCode.COLUMN_COUNT, f"unreadable CSV: {exc}", raw))

    def result(self) -> ParseResult:
        table = pa.table(
            {name: pa.array(values, pa.string()) for name, values in self.columns.items()}
        )
        line_nos = np.asarray(self.nos, dtype=np.int64)
        return _finish(
            table,
            line_nos,
            self.contract,
            self.raws.__getitem__,
            self.bad,
            self.lines_in,
            self.extras.get,
        )


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
