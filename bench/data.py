"""Bronze test files: realistic `shipments` JSONL from the project's generator, cached on disk.

Generating records in Python costs ~3 s per 20 MB, so a file larger than one chunk repeats a
generated chunk instead of generating 200 MB. Repeating changes nothing the transform does
per byte (no step deduplicates, and zstd's window is far smaller than a chunk).
"""

import datetime as dt
import hashlib
import inspect
import os
from pathlib import Path

from bench.common import DATA_DIR
from elt_assets.cli import samples as generate_module

DAY = dt.date(2026, 5, 1)
SEED = 20260501
BAD_RATIO = 0.01
CHUNK_RECORDS = 110_000  # ~20 MB of shipments at ~185 bytes a record


def _generator_fingerprint() -> str:
    """A change to the generator must not be hidden by a stale cached file."""
    return hashlib.sha256(inspect.getsource(generate_module).encode()).hexdigest()[:8]


def bronze_file(records: int, bad_ratio: float, seed: int = SEED) -> Path:
    """The path of a cached JSONL file of `records` shipments, `bad_ratio` of them bad.

    Args:
        records: Lines in the file.
        bad_ratio: Share of bad lines of mixed kinds (the generator's `bad_ratio`).
        seed: Generator seed; the same arguments always give the same bytes.
    """
    name = f"shipments-{records}r-bad{bad_ratio:g}-seed{seed}-{_generator_fingerprint()}.jsonl"
    path = DATA_DIR / name
    if path.exists():
        return path
    chunk = min(records, CHUNK_RECORDS)
    data = generate_module.generate(
        "shipments", "jsonl", chunk, bad_ratio=bad_ratio, seed=seed, day=DAY
    ).data
    repeats, rest = divmod(records, chunk)
    body = data * repeats
    if rest:
        body += b"".join(data.splitlines(keepends=True)[:rest])
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # Write then rename, so an interrupted run never leaves a truncated file under the final name.
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(body)
    partial.replace(path)
    return path
