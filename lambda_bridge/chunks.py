"""Large objects in byte ranges (DESIGN §12): how ingest splits one, and how a transform reads
its part.

A chunk is a byte range `[start, end)` of one object version and owns exactly the lines that
START inside it: its transform reads the range plus, past `end`, the rest of its last line, and
skips the head of a line that began in the chunk before. So the chunks of an object hold every
line once, whatever the boundaries cut (a line, a CRLF pair, a multi-byte character), and each
transform's memory follows the chunk, not the object. `_line` counts within the chunk; the
manifest names the chunk's byte range, so `elt where` points at the original line.

Only uncompressed JSONL is split: a gzip stream cannot start mid-way, a JSON array is one value,
and a CSV line break may sit inside quotes.
"""

from typing import Any

import msgspec

from lambda_bridge.keys import format_of_key

DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024
# Past a chunk's end, its last line is read on in pieces of this size until its newline.
TAIL_READ_BYTES = 1024 * 1024


class Chunk(msgspec.Struct, frozen=True):
    """One byte range of a split object: `index` of `count`, bytes `[start, end)`."""

    index: int
    start: int
    end: int
    count: int

    def to_dict(self) -> dict[str, int]:
        return {"index": self.index, "start": self.start, "end": self.end, "count": self.count}


def splittable(key: str) -> bool:
    """Whether an object can be split into byte ranges at line starts (uncompressed JSONL)."""
    return not key.lower().endswith(".gz") and format_of_key(key) == "jsonl"


def plan_chunks(key: str, size: int | None, chunk_bytes: int) -> list[Chunk] | None:
    """The chunks of an object of `size` bytes, or None when it is processed whole."""
    if size is None or size <= chunk_bytes or not splittable(key):
        return None
    count = -(-size // chunk_bytes)
    return [
        Chunk(index=i, start=i * chunk_bytes, end=min((i + 1) * chunk_bytes, size), count=count)
        for i in range(count)
    ]


def read_chunk(s3: Any, request: dict[str, Any], chunk: Chunk) -> tuple[bytes, dict[str, Any]]:
    """The bytes of the lines that start inside `chunk`, and the first ranged GET's response
    (its version, ETag, LastModified and `ContentRange` total describe the object).

    `request` is the GET's Bucket/Key/VersionId; every later range reads the version the first
    one returned, so a new version landing meanwhile cannot mix into this one.

    Raises:
        botocore.exceptions.ClientError: S3 failed, or the object is gone (the caller decides).
    """
    head_from = max(chunk.start - 1, 0)  # the byte before start says whether a line starts there
    response = s3.get_object(**request, Range=f"bytes={head_from}-{chunk.end - 1}")
    data = response["Body"].read()
    size = object_size(response)
    pinned = dict(request)
    version = response.get("VersionId")
    if version and version != "null":
        pinned["VersionId"] = version
    else:
        etag = response.get("ETag")
        if etag:
            pinned["IfMatch"] = etag
    if chunk.start > 0:
        newline = data.find(b"\n")
        if newline < 0:
            return b"", response  # a line that started before this chunk covers all of it
        data = data[newline + 1 :]
    if not data or data.endswith(b"\n") or chunk.end >= size:
        return data, response
    parts, position = [data], chunk.end
    while position < size:
        last = min(position + TAIL_READ_BYTES, size) - 1
        piece = s3.get_object(**pinned, Range=f"bytes={position}-{last}")["Body"].read()
        newline = piece.find(b"\n")
        if newline >= 0:
            parts.append(piece[: newline + 1])
            break
        parts.append(piece)
        position = last + 1
    return b"".join(parts), response


def object_size(response: dict[str, Any]) -> int:
    """The whole object's size from a ranged GET (`Content-Range: bytes a-b/total`)."""
    content_range = str(response.get("ContentRange") or "")
    if "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(response.get("ContentLength") or 0)
