"""Objects streamed through one transform (DESIGN §12), in memory bounded by a block.

A gzip object cannot start mid-way and a CSV line break may sit inside quotes, so neither is
split into byte ranges; such an object (gzip JSONL or CSV, or an uncompressed CSV over a block)
is read from one GET, decompressed a piece at a time, and cut into blocks of whole records:
JSONL at a newline; CSV where the reader says a record ends, so a quoted field that crosses a
block's end goes into the next block. Each block is parsed by the same code as a whole object,
its `_line` counted in the whole object; its rows (one Parquet row group) and quarantined
lines go out a part at a time into multipart uploads, completed only when the object is done
and committed by the manifest, as a whole object's files are (nothing is written to local
disk). An object that fits in one block is the whole-object case.

What cannot be done gives the whole-object quarantine records the whole path gives: gzip that
turns out truncated or corrupt at any point is `decompress`; the deadline passing midway (the
function would run out of time) or one record longer than ELT_MAX_OBJECT_BYTES is `too_large`.
Anything written for the object so far is dropped, so conservation holds either way.
"""

import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from lambda_bridge.contracts import Contract
from lambda_bridge.outputs import Outputs, StreamedOutputs, Target, WholeOutputs
from lambda_bridge.parse import (
    BOM,
    GZIP_MAGIC,
    RAW_LIMIT,
    Block,
    ParseResult,
    gunzip_pieces,
    out_of_time,
    parse_block,
    parse_object,
    record_too_large,
    too_large,
    unreadable_gzip,
)

STREAMED_FORMATS = ("jsonl", "csv")
# A JSONL block is two of pyarrow's own read blocks and a row group of a useful size; larger
# blocks buy little speed for their memory.
JSONL_BLOCK_BYTES = 8 << 20
# The CSV reader makes a Python string of every cell, many times the bytes it came from, so its
# blocks are smaller for about the same memory.
CSV_BLOCK_BYTES = 4 << 20
# How much of the body one read asks S3 for.
READ_BYTES = 1 << 20
_clock = time.monotonic  # tests replace it to pass a deadline midway


class DeadlineExceeded(Exception):
    """A streamed object ran out of the time it was given, and the caller asked to retry it (it
    started late in its invocation) rather than quarantine it."""


def block_bytes(fmt: str, chunk_bytes: int, max_bytes: int | None) -> int:
    """The block (window) a streamed object is cut into; an object up to it is read whole.

    Never more than a chunk (ELT_CHUNK_BYTES) or ELT_MAX_OBJECT_BYTES: a block is parsed as a
    chunk or a whole object is, so it costs no more memory than either.
    """
    block = CSV_BLOCK_BYTES if fmt == "csv" else JSONL_BLOCK_BYTES
    return max(1, min(block, chunk_bytes, max_bytes or block))


def read_object(
    body: Any,
    size: int,
    contract: Contract,
    target: Target,
    *,
    fmt: str | None,
    chunk_bytes: int,
    max_bytes: int | None,
    deadline: float | None = None,
    late_retries: bool = False,
) -> Outputs:
    """Read an unsplit object's body and parse it: whole, as `parse_object` does, or streamed.

    Args:
        body: The GET's streaming body (read here, and closed when only its head is read).
        size: Its ContentLength.
        contract: The dataset's contract.
        target: Where the outputs go.
        fmt: The key's format.
        chunk_bytes: ELT_CHUNK_BYTES (a block is never larger).
        max_bytes: ELT_MAX_OBJECT_BYTES: the most an object read whole may be, and the longest
            record a streamed object may hold; a streamed object itself has no size limit.
        deadline: `time.monotonic()` by which a streamed object must be done.
        late_retries: Past the deadline, raise DeadlineExceeded instead of quarantining.
    """
    head = b""
    if fmt in STREAMED_FORMATS and fmt in contract.formats:
        head = body.read(len(GZIP_MAGIC))
        window = block_bytes(fmt, chunk_bytes, max_bytes)
        gz = head == GZIP_MAGIC
        if gz or (fmt == "csv" and size > window):
            raw = _Body(body, head, deadline)
            streamer = _Stream(contract, fmt, window, max_bytes, deadline)
            return streamer.run(raw, gz, target, late_retries)
    if max_bytes is not None and size > max_bytes:
        head += body.read(RAW_LIMIT - len(head))  # enough to show what it is, no more
        body.close()
        return WholeOutputs(too_large(contract, head, size, max_bytes), contract, target)
    data = head + body.read()
    return WholeOutputs(parse_object(data, contract, fmt, max_bytes), contract, target)


class _OutOfTime(Exception):
    pass


class _RecordTooLarge(Exception):
    def __init__(self, line: int, size: int) -> None:
        super().__init__(line, size)
        self.line, self.size = line, size


def _check(deadline: float | None) -> None:
    if deadline is not None and _clock() > deadline:
        raise _OutOfTime


class _Body:
    """The body in pieces, keeping its first bytes (what a whole-object quarantine record shows)
    and checking the deadline before each read."""

    def __init__(self, body: Any, first: bytes, deadline: float | None) -> None:
        self._body, self._deadline = body, deadline
        self.head = first

    def __iter__(self) -> Iterator[bytes]:
        if self.head:
            yield self.head
        while True:
            _check(self._deadline)
            piece = self._body.read(READ_BYTES)
            if not piece:
                return
            if len(self.head) <= RAW_LIMIT:
                self.head += piece[: RAW_LIMIT + 1 - len(self.head)]
            yield piece


class _Stream:
    """Cuts a decompressed object into blocks of whole records and parses each."""

    def __init__(
        self,
        contract: Contract,
        fmt: str,
        window: int,
        record_limit: int | None,
        deadline: float | None,
    ) -> None:
        self.contract, self.fmt, self.window = contract, fmt, window
        self.record_limit, self.deadline = record_limit, deadline
        self.pending = bytearray()
        self.ended = False
        self.lines_before = 0  # the object's physical lines before `pending`
        self.read = 0  # decompressed bytes taken in
        self.header: list[str] | None = None
        self.largest = 0  # the longest block parsed (tests hold it to the window)

    def run(self, raw: _Body, gz: bool, target: Target, late_retries: bool) -> Outputs:
        """Stream the object into outputs; what cannot be streamed is quarantined whole."""
        started = _clock()
        outputs = StreamedOutputs(self.contract, target)
        try:
            for result, last in self.blocks(gunzip_pieces(raw) if gz else raw):
                if last and not outputs.blocks:  # it fits in one block: read whole after all
                    outputs.close()
                    return WholeOutputs(result, self.contract, target)
                outputs.add(result)
        except (EOFError, zlib.error) as exc:  # only the decompressor raises these
            whole = unreadable_gzip(self.contract, raw.head, exc)
        except _OutOfTime:
            if late_retries:
                outputs.close()
                msg = f"{target.source_key}: out of time after {self.read} bytes; retry"
                raise DeadlineExceeded(msg) from None
            whole = out_of_time(self.contract, raw.head, _clock() - started, self.read)
        except _RecordTooLarge as exc:
            limit = self.record_limit or 0
            whole = record_too_large(self.contract, raw.head, exc.line, exc.size, limit)
        except BaseException:
            outputs.close()
            raise
        else:
            return outputs
        outputs.close()
        return WholeOutputs(whole, self.contract, target)

    def blocks(self, source: Iterable[bytes]) -> Iterator[tuple[ParseResult, bool]]:
        """Each block's result, and whether it is the last."""
        pieces = iter(source)
        self._fill(pieces, max(self.window, len(BOM)))
        if self.pending.startswith(BOM):
            del self.pending[: len(BOM)]
        target = self.window
        while True:
            self._fill(pieces, target)
            if self.ended and len(self.pending) <= target:
                yield self._parse(len(self.pending), final=True).result, True
                return
            cut = self.pending.rfind(b"\n", 0, target) + 1  # the last line end in the window
            if not cut:  # the first line is longer than the window: it is the block
                cut = self.pending.find(b"\n", target) + 1
                if not cut:
                    target = self._grow(len(self.pending))
                    continue
                self._within_limit(cut - 1)
            block = self._parse(cut, final=False)
            if not block.consumed:  # a CSV record runs on past the block: read it whole
                target = self._grow(cut)
                continue
            yield block.result, False
            target = self.window

    def _fill(self, pieces: Iterator[bytes], size: int) -> None:
        while not self.ended and len(self.pending) < size:
            piece = next(pieces, None)
            if piece is None:
                self.ended = True
            else:
                self.pending += piece
                self.read += len(piece)

    def _grow(self, size: int) -> int:
        """The next window for a record of at least `size` bytes, within the record limit."""
        self._within_limit(size)
        limit = self.record_limit
        return 2 * size if limit is None else min(2 * size, limit + 1)

    def _within_limit(self, size: int) -> None:
        """The first record of `pending` is at least `size` bytes: more than it may hold?"""
        if self.record_limit is not None and size > self.record_limit:
            raise _RecordTooLarge(self.lines_before + 1, size)

    def _parse(self, cut: int, final: bool) -> Block:
        _check(self.deadline)
        # The block leaves `pending` for a buffer of its own, so it is held once while parsed.
        with memoryview(self.pending) as view:
            data, self.pending = bytes(view[:cut]), bytearray(view[cut:])
        self.largest = max(self.largest, len(data))
        block = parse_block(data, self.contract, self.fmt, self.lines_before, self.header, final)
        self.header = block.header
        self.lines_before += data.count(b"\n", 0, block.consumed)
        if block.consumed < cut:  # a CSV record the block's end cut: it starts the next block
            self.pending[:0] = data[block.consumed :]
        return block
