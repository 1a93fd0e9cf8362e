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

import msgspec

from lambda_bridge.keys import format_of_key

DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024


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
