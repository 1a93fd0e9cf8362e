"""The quarantine file: one JSON object per bad input line (DESIGN §3), streamed to S3 in parts."""

import base64
import io
import itertools
from collections.abc import Iterator
from typing import Any

import msgspec
from boto3.s3.transfer import TransferConfig

from lambda_bridge.multipart import PART_BYTES, PartUpload
from lambda_bridge.parse import BadLine

# The quarantine file is written in parts of this size (S3's minimum part is 5 MiB).
QUARANTINE_PART_BYTES = PART_BYTES
_QUARANTINE_ENCODER = msgspec.json.Encoder()


def quarantine_parts(
    bad: list[BadLine],
    source_key: str,
    source_version: str,
    part_bytes: int = QUARANTINE_PART_BYTES,
) -> Iterator[bytearray]:
    """The quarantine file (one JSON object per bad input line, DESIGN §3) in pieces of at least
    `part_bytes` (the last may be smaller), encoded as they are asked for.

    A quarantine record carries the raw line, the reason and the lineage, so a file whose every
    line is bad has a quarantine ~3x its size: it is produced, and sent, a part at a time.
    The exact bytes of a line that is not UTF-8 are kept in `raw_base64`.
    """
    out = bytearray()
    for line in bad:
        _encode_into(line, source_key, source_version, out)
        if len(out) >= part_bytes:
            yield out
            out = bytearray()
    if out:
        yield out


def _encode_into(line: BadLine, source_key: str, source_version: str, out: bytearray) -> None:
    """Append one quarantine record (and its newline) to `out`."""
    record: dict[str, Any] = {
        "_source_key": source_key,
        "_source_version": source_version,
        "_line": line.line,
        "_error_code": line.code.value,
        "_error": line.error,
    }
    try:
        record["raw"] = line.raw.decode("utf-8")
    except UnicodeDecodeError:
        record["raw"] = line.raw.decode("utf-8", errors="replace")
        record["raw_base64"] = base64.b64encode(line.raw).decode()
    if line.truncated:
        record["_raw_truncated"] = True
    _QUARANTINE_ENCODER.encode_into(record, out, -1)
    out += b"\n"


def put_quarantine(
    s3: Any, bucket: str, key: str, bad: list[BadLine], source_key: str, source_version: str
) -> None:
    """Write the quarantine file: one PutObject when it fits in a part (the common case), else an
    S3 multipart upload fed part by part, so its memory is a few parts, not the whole file."""
    parts = quarantine_parts(bad, source_key, source_version)
    first = next(parts)
    second = next(parts, None)
    if second is None:
        s3.put_object(Bucket=bucket, Key=key, Body=first)
        return
    stream = io.BufferedReader(_PartsReader(itertools.chain((first, second), parts)))
    del first, second
    s3.upload_fileobj(Fileobj=stream, Bucket=bucket, Key=key, Config=_QUARANTINE_TRANSFER)


# s3transfer uploads the parts on a few threads while the next ones are encoded, and holds at
# most this many in memory (its `max_in_memory_upload_chunks`, which boto3's TransferConfig
# does not take as an argument).
QUARANTINE_PARTS_IN_FLIGHT = 4
_QUARANTINE_TRANSFER = TransferConfig(
    multipart_threshold=QUARANTINE_PART_BYTES,
    multipart_chunksize=QUARANTINE_PART_BYTES,
    max_concurrency=QUARANTINE_PARTS_IN_FLIGHT,
)
_QUARANTINE_TRANSFER.max_in_memory_upload_chunks = QUARANTINE_PARTS_IN_FLIGHT


class QuarantineUpload:
    """The quarantine file of a streamed object, sent while it grows a part at a time (memory
    holds one part, not the file); nothing is at the key until `commit`."""

    def __init__(
        self, s3: Any, bucket: str, key: str, source_key: str, source_version: str
    ) -> None:
        self._upload = PartUpload(s3, bucket, key, QUARANTINE_PART_BYTES)
        self._source = (source_key, source_version)
        self.lines = 0

    def add(self, bad: list[BadLine]) -> None:
        """Append quarantine records."""
        for piece in quarantine_parts(bad, *self._source, part_bytes=_ENCODE_BYTES):
            self._upload.write(piece)
        self.lines += len(bad)

    def commit(self) -> None:
        """Put the file at its key (call only when `lines` is not 0)."""
        self._upload.commit()

    def abort(self) -> None:
        """Drop the parts sent, if any (nothing to do once committed)."""
        self._upload.abort()


# Records are encoded this much at a time on their way into a part.
_ENCODE_BYTES = 1 << 20


class _PartsReader(io.RawIOBase):
    """A readable, non-seekable stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes | bytearray]) -> None:
        super().__init__()
        self._chunks = chunks
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._current:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._current = memoryview(chunk)
        n = min(len(buffer), len(self._current))
        buffer[:n] = self._current[:n]
        self._current = self._current[n:]
        return n
