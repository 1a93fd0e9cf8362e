"""One block of a streamed object (DESIGN §12): a run of its physical lines that starts at a
record, parsed by the same code as a whole object, with `_line` counted in the whole object.

A JSONL line's verdict never depends on the other lines, and a CSV record's only on the header,
so blocks cut between records give, together, what the whole object gives.
"""

import dataclasses
from dataclasses import dataclass

from lambda_bridge.contracts import Contract
from lambda_bridge.parse.csv import _read_csv
from lambda_bridge.parse.jsonl import _parse_jsonl
from lambda_bridge.parse.object import _add_hints
from lambda_bridge.parse.result import ParseResult


@dataclass
class Block:
    """One parsed block.

    Attributes:
        result: Its records; `_line` is the line in the whole object.
        consumed: How many of its bytes were read: the rest starts a record the block does not
            finish (a CSV field quoted across its end), which the next block reads again.
        header: The CSV header, found in this block or an earlier one (None for JSONL).
    """

    result: ParseResult
    consumed: int
    header: list[str] | None = None


def parse_block(
    data: bytes,
    contract: Contract,
    fmt: str,
    lines_before: int,
    header: list[str] | None = None,
    final: bool = True,
) -> Block:
    """Parse a block as the whole object's parse reads the same records.

    Args:
        data: The block, decompressed, without the object's BOM; it starts at a record and,
            unless `final`, ends with a newline.
        contract: The dataset's contract.
        fmt: `jsonl` or `csv`.
        lines_before: The object's physical lines before the block.
        header: The CSV header an earlier block found.
        final: Whether the block ends the object.
    """
    if fmt == "csv":
        read = _read_csv(data, contract, header, final)
        result, header = read.result, read.header
        consumed = len(data) if read.rest is None else _line_start(data, read.rest)
    else:
        result, consumed = _parse_jsonl(data, contract), len(data)
    _add_hints(result.bad, contract)
    return Block(_shifted(result, lines_before), consumed, header)


def _shifted(result: ParseResult, lines: int) -> ParseResult:
    if not lines:
        return result
    bad = [dataclasses.replace(b, line=b.line + lines) for b in result.bad]
    return ParseResult(result.table, result.lines + lines, bad, result.lines_in)


def _line_start(data: bytes, line: int) -> int:
    """Where 1-based physical `line` of `data` (which ends with a newline) starts, found from the
    end: the record left for the next block is the last few lines."""
    end = len(data)
    for _ in range(data.count(b"\n") - line + 2):
        end = data.rfind(b"\n", 0, end)
    return end + 1
