"""The storage contract: every key the pipeline writes, and how bronze keys map to them.

Output keys depend only on the source bucket, key and chunk (never on a version, a message id or
the time), so the same source key always lands on the same outputs and a replay overwrites
instead of duplicating.
"""

import datetime as dt
import hashlib
import re
from urllib.parse import unquote_plus

# Where every manifest is in the silver bucket (the landings notification filters on it).
MANIFESTS_ROOT = "_manifests/"
_DT_SEGMENT = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})/")
_GZIP_SUFFIX = ".gz"
_FORMAT_BY_EXTENSION = {"jsonl": "jsonl", "ndjson": "jsonl", "json": "json", "csv": "csv"}


def decode_event_key(raw: str) -> str:
    """S3 notifications URL-encode keys (a space arrives as '+'); undo that exactly once."""
    return unquote_plus(raw)


def dt_from_key(key: str) -> str | None:
    """The `dt=YYYY-MM-DD` segment of a bronze key, if it has a valid one."""
    match = _DT_SEGMENT.search(key)
    if not match:
        return None
    try:
        dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return match.group(1)


def arrival_date(key: str, last_modified: dt.datetime) -> str:
    """The partition date D: the key's `dt=` segment, else the object's LastModified date (UTC)."""
    from_key = dt_from_key(key)
    if from_key:
        return from_key
    if last_modified.tzinfo is None:
        last_modified = last_modified.replace(tzinfo=dt.UTC)
    return last_modified.astimezone(dt.UTC).date().isoformat()


def format_of_key(key: str) -> str | None:
    """`jsonl`, `json` or `csv` from the key's extension (a trailing `.gz` is looked through)."""
    name = key.rsplit("/", 1)[-1].lower()
    if name.endswith(_GZIP_SUFFIX):
        name = name[: -len(_GZIP_SUFFIX)]
    if "." not in name:
        return None
    return _FORMAT_BY_EXTENSION.get(name.rsplit(".", 1)[-1])


def part_id(bucket: str, key: str, chunk: int | None = None) -> str:
    """A stable id for one source object (or chunk of it): a hash of bucket, key and chunk."""
    digest = hashlib.sha256(f"{bucket}\x00{key}\x00{chunk or 0}".encode()).hexdigest()
    return digest[:24]


def silver_key(dataset: str, day: str, pid: str) -> str:
    """`silver/<dataset>/dt=<D>/part-<id>.parquet`: the object's good rows."""
    return f"silver/{dataset}/dt={day}/part-{pid}.parquet"


def quarantine_key(dataset: str, day: str, pid: str) -> str:
    """`quarantine/<dataset>/dt=<D>/part-<id>.jsonl`: the object's bad lines."""
    return f"quarantine/{dataset}/dt={day}/part-{pid}.jsonl"


def manifest_key(dataset: str, day: str, pid: str) -> str:
    """`_manifests/<dataset>/dt=<D>/part-<id>.json`: what became of the object."""
    return f"{manifest_prefix(dataset, day)}part-{pid}.json"


def manifest_prefix(dataset: str, day: str | None = None) -> str:
    """`_manifests/<dataset>/`, or `_manifests/<dataset>/dt=<D>/`: a dataset's or a partition's
    manifests, to list."""
    return f"{MANIFESTS_ROOT}{dataset}/" + (f"dt={day}/" if day else "")


def index_key(dataset: str, pid: str) -> str:
    """Where the latest processing of a source key is recorded, whatever its date.

    A new version of an undated key may arrive on another day; the index tells the transform
    which partition holds the old version's outputs so it can remove them (newest wins).
    """
    return f"_index/{dataset}/part-{pid}.json"


def gold_summary_key(name: str, day: str) -> str:
    """`gold/<name>/dt=<D>/summary.json` in the silver bucket: a gold asset's daily summary."""
    return f"gold/{name}/dt={day}/summary.json"


def report_prefix(day: str) -> str:
    """`reports/<D>/` in the silver bucket: the daily report's files."""
    return f"reports/{day}/"
