"""CSV with a header row: each data row is one record."""

import csv

import msgspec
import numpy as np
import pyarrow as pa

from lambda_bridge.contracts import Contract
from lambda_bridge.parse.finish import _finish
from lambda_bridge.parse.result import BadLine, ErrorCode, ParseResult, _bad_line, _too_long


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
