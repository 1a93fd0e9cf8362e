"""One bronze object in: its size limit, gzip, format and BOM, then the path for its format."""

import gzip
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
import pyarrow as pa

from lambda_bridge.contracts import Contract
from lambda_bridge.parse.csv import _parse_csv
from lambda_bridge.parse.isolating import _parse_lines
from lambda_bridge.parse.jsonl import _head, _parse_jsonl
from lambda_bridge.parse.result import (
    BOM,
    GZIP_MAGIC,
    RAW_LIMIT,
    TOO_DEEP,
    BadLine,
    ErrorCode,
    ParseResult,
    _whole_object,
    too_large,
    unreadable_gzip,
)


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
            return unreadable_gzip(contract, data, exc)
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
            raise EOFError(_ENDED_EARLY)
        rest = member.unused_data.lstrip(b"\x00")  # gzip allows zero padding after a member
    return bytes(out)


_ENDED_EARLY = "Compressed file ended before the end-of-stream marker was reached"
GUNZIP_PIECE_BYTES = 1 << 20


def gunzip_pieces(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """`_gunzip` for a stream: the decompressed bytes of every member, in pieces of at most
    GUNZIP_PIECE_BYTES, as the compressed pieces come in; the same errors, at the end of the
    stream or where the data goes bad (after the pieces before it were given out).

    Raises:
        EOFError: The stream ended inside a member.
        zlib.error: The data is not gzip, or is corrupt (a checksum, a length).
    """
    member = None
    for piece in pieces:
        data = piece
        while data:
            if member is None:
                data = data.lstrip(b"\x00")  # padding, possibly across pieces
                if not data:
                    break
                member = zlib.decompressobj(wbits=31)
            yield from _inflate(member, data)
            data, member = (member.unused_data, None) if member.eof else (b"", member)
    if member is not None:
        raise EOFError(_ENDED_EARLY)


def _inflate(member: Any, data: bytes) -> Iterator[bytes]:
    """All `member` makes of `data`, a bounded piece at a time (a gzip bomb stays a stream)."""
    while True:
        out = member.decompress(data, GUNZIP_PIECE_BYTES)
        if out:
            yield out
        data = member.unconsumed_tail
        # Output that filled its piece may have more behind it even with no input left.
        if member.eof or (not data and len(out) < GUNZIP_PIECE_BYTES):
            return


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
        return _whole_object(contract, data, ErrorCode.JSON_DECODE, TOO_DEEP)
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        problem = f"a JSON document must be an array of objects, got {type(doc).__name__}"
        return _whole_object(contract, data, ErrorCode.NOT_AN_OBJECT, problem)
    return _parse_lines([msgspec.json.encode(element) for element in doc], contract)
