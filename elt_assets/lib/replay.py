"""Replay: re-run the hot path's transform over one day's bronze objects.

No Dagster here: the silver asset calls `replay_partition`, and so can anything else. A replay
writes the same deterministic keys as the Lambda, so running it twice, or after the hot path,
leaves the same rows.
"""

import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from elt_assets.lib.state import partition_manifests
from lambda_bridge.chunks import plan_chunks
from lambda_bridge.config import Settings
from lambda_bridge.contracts import Contract
from lambda_bridge.keys import dt_from_key, index_key, manifest_key, manifest_prefix, part_id
from lambda_bridge.process import WRITER_REPLAY, process_object
from lambda_bridge.storage import is_missing, read_json

# S3's clock and this machine's may differ: a manifest this much older than the send is read.
_CLOCK_SKEW = dt.timedelta(seconds=5)
# Objects in flight at once in an in-process replay: enough to hide S3's latency, few enough
# that a pool of 200 MB objects fits a Dagster run's memory.
REPLAY_WORKERS = 4


@dataclass
class ReplaySummary:
    """What a replay of one partition did, as numbers the Dagster UI can plot."""

    dataset: str
    day: str
    objects: int = 0
    lines_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    bytes_in: int = 0
    seconds: float = 0.0
    skipped: int = 0
    orphans_removed: int = 0
    by_code: dict[str, int] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "lines_in": self.lines_in,
            "rows_out": self.rows_out,
            "rows_quarantined": self.rows_quarantined,
            "bytes_in": self.bytes_in,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
            "orphans_removed": self.orphans_removed,
        }


def iter_bronze_objects(
    s3: Any, bucket: str, contract: Contract, day: str
) -> Iterator[dict[str, Any]]:
    """The bronze objects of partition `day`: keys under `dt=<day>/`, and undated keys whose
    LastModified (UTC) falls on that day.

    Other days' `dt=` folders are not listed, so the cost follows the partition, not the bucket
    (undated keys are listed whole: a dataset that wants cheap replays dates its keys).
    """
    paginator = s3.get_paginator("list_objects_v2")
    pending = [contract.bronze_prefix]
    while pending:
        prefix = pending.pop()
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            for folder in page.get("CommonPrefixes", []):
                name = folder["Prefix"][len(prefix) :].rstrip("/")
                if name.startswith("dt="):
                    if name == f"dt={day}":
                        yield from _list_all(paginator, bucket, folder["Prefix"])
                else:
                    pending.append(folder["Prefix"])
            for item in page.get("Contents", []):
                if dt_from_key(item["Key"]) is None and _utc_day(item["LastModified"]) == day:
                    yield item


def _list_all(paginator: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def _utc_day(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).date().isoformat()


def replay_partition(
    s3: Any,
    contract: Contract,
    bronze_bucket: str,
    silver_bucket: str,
    day: str,
    workers: int = REPLAY_WORKERS,
) -> ReplaySummary:
    """Transform every current bronze object of `day` again, and drop outputs of deleted ones.

    `workers` objects (or chunks) are processed at once; 1 processes them one after another.
    """
    started = time.perf_counter()
    summary = ReplaySummary(contract.name, day)
    chunk_bytes = Settings.from_env().chunk_bytes  # split as ingest splits
    items = list(iter_bronze_objects(s3, bronze_bucket, contract, day))
    tasks = [
        (item["Key"], chunk)
        for item in items
        for chunk in plan_chunks(item["Key"], int(item.get("Size") or 0), chunk_bytes) or [None]
    ]

    # `_ingested_at` is what makes a record newest for its key (`<dataset>_current`): in a
    # replay it follows the listing, a microsecond apart, as if the objects had been processed
    # one after another, whichever thread gets to one first.
    at = dt.datetime.now(dt.UTC)

    def run(numbered: tuple[int, tuple[str, Any]]) -> Any:
        n, (key, chunk) = numbered
        return process_object(
            s3, contract, silver_bucket, bronze_bucket, key, chunk=chunk, chunk_bytes=chunk_bytes,
            writer=WRITER_REPLAY, now=at + dt.timedelta(microseconds=n),
        )  # fmt: skip

    # S3 round trips dominate a replay on AWS, so objects (and chunks) go through a bounded
    # pool; each writes only its own keys, and a boto3 client is safe to share across threads.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(run, enumerate(tasks)))
    processed: set[str] = set()
    for (key, _), outcome in zip(tasks, outcomes, strict=True):
        if outcome.status != "processed" or outcome.manifest is None:
            continue
        processed.add(key)
        m = outcome.manifest
        summary.lines_in += m["lines_in"]
        summary.rows_out += m["rows_out"]
        summary.rows_quarantined += m["rows_quarantined"]
        for code, n in m["quarantine_by_code"].items():
            summary.by_code[code] = summary.by_code.get(code, 0) + n
    seen = {item["Key"] for item in items}
    summary.objects = len(processed)
    summary.skipped = len(seen - processed)
    summary.bytes_in = sum(int(i.get("Size") or 0) for i in items if i["Key"] in processed)
    summary.orphans_removed = _remove_orphans(s3, contract, bronze_bucket, silver_bucket, day, seen)
    summary.seconds = time.perf_counter() - started
    return summary


def _remove_orphans(
    s3: Any, contract: Contract, bronze_bucket: str, silver_bucket: str, day: str, seen: set[str]
) -> int:
    """Outputs whose bronze object was deleted would otherwise stay in silver forever."""
    removed = 0
    prefix = manifest_prefix(contract.name, day)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=silver_bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            manifest = read_json(s3, silver_bucket, item["Key"])
            if manifest is None:  # withdrawn since the listing: its key is being reprocessed
                continue
            source = manifest["source"]
            if source["bucket"] != bronze_bucket or source["key"] in seen:
                continue
            try:
                s3.head_object(Bucket=bronze_bucket, Key=source["key"])
                continue  # still there (now dated another day): its own processing moves it
            except ClientError as exc:
                if not is_missing(exc):
                    raise
            pid = part_id(
                source["bucket"], source["key"], (manifest.get("chunk") or {}).get("index")
            )
            for key in (
                manifest.get("silver_key"),
                manifest.get("quarantine_key"),
                item["Key"],
                index_key(contract.name, pid),
            ):
                if key:
                    s3.delete_object(Bucket=silver_bucket, Key=key)
            removed += 1
    return removed


# -- through the events queue: the Lambdas do the work ---------------------------------------


@dataclass
class QueuedReplay:
    """Pointer messages sent for one partition, and what must come back for it to be done.

    Attributes:
        day: The partition.
        expected: (bronze key, chunk index or None) of every message sent.
        sent_at: Taken before the first send: a manifest processed at or after it answers one.
        started: perf_counter at the start, for the summary's seconds.
    """

    day: str
    expected: set[tuple[str, int | None]]
    sent_at: str
    started: float
    bronze_keys: set[str] = field(default_factory=set)
    answered: set[tuple[str, int | None]] = field(default_factory=set)

    def arrived(self, manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The partition's manifests that answer this replay's messages."""
        return [
            m for m in manifests if m["processed_at"] >= self.sent_at and _part(m) in self.expected
        ]

    def collect(self, s3: Any, silver_bucket: str, dataset: str, bronze_bucket: str) -> None:
        """Add what has been answered since the last look: one LIST of the partition's
        manifests, and a GET only of those written since the send that answer nothing yet."""
        waiting = {
            manifest_key(dataset, self.day, part_id(bronze_bucket, key, chunk)): (key, chunk)
            for key, chunk in self.expected - self.answered
        }
        since = dt.datetime.fromisoformat(self.sent_at) - _CLOCK_SKEW
        prefix = manifest_prefix(dataset, self.day)
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=silver_bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                if item["Key"] not in waiting or item["LastModified"] < since:
                    continue
                manifest = read_json(s3, silver_bucket, item["Key"])
                if manifest is not None and self.arrived([manifest]):
                    self.answered.add(waiting[item["Key"]])


def _part(manifest: dict[str, Any]) -> tuple[str, int | None]:
    chunk = manifest.get("chunk")
    return manifest["source"]["key"], chunk["index"] if chunk else None


def send_partition(
    s3: Any, sqs: Any, queue_url: str, contract: Contract, bronze_bucket: str, day: str
) -> QueuedReplay:
    """One pointer message per bronze object of `day` (per chunk of a split one) on the events
    queue, as ingest would send them: the transform Lambdas replay the partition in parallel.

    Raises:
        RuntimeError: SQS refused part of a batch (what was sent is harmless to send again).
    """
    import msgspec

    from lambda_bridge.messages import Pointer

    chunk_bytes = Settings.from_env().chunk_bytes
    sent_at = dt.datetime.now(dt.UTC).isoformat()
    replay = QueuedReplay(day, set(), sent_at, time.perf_counter())
    bodies = []
    for item in iter_bronze_objects(s3, bronze_bucket, contract, day):
        size = int(item.get("Size") or 0)
        replay.bronze_keys.add(item["Key"])
        base = Pointer(
            dataset=contract.name, bucket=bronze_bucket, key=item["Key"],
            etag=str(item.get("ETag", "")).strip('"') or None, size=size, dt=day,
        )  # fmt: skip
        # No version: the transform reads the current one, which is what a replay means.
        for chunk in plan_chunks(item["Key"], size, chunk_bytes) or [None]:
            replay.expected.add((item["Key"], chunk.index if chunk else None))
            bodies.append(msgspec.structs.replace(base, chunk=chunk).to_json())
    for first in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[first : first + 10])
        ]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed")
        if failed:
            msg = f"SQS refused {len(failed)} replay messages for dt={day}: {failed[:3]}"
            raise RuntimeError(msg)
    return replay


def finish_partition(
    s3: Any,
    contract: Contract,
    bronze_bucket: str,
    silver_bucket: str,
    replay: QueuedReplay,
) -> ReplaySummary:
    """Once every message is answered: the summary an in-process replay gives, orphans removed."""
    manifests = replay.arrived(partition_manifests(s3, silver_bucket, contract.name, replay.day))
    summary = ReplaySummary(contract.name, replay.day)
    keys = {m["source"]["key"]: m["source"]["size"] for m in manifests}
    summary.objects = len(keys)
    summary.bytes_in = sum(keys.values())
    summary.skipped = len(replay.bronze_keys - set(keys))
    for m in manifests:
        summary.lines_in += m["lines_in"]
        summary.rows_out += m["rows_out"]
        summary.rows_quarantined += m["rows_quarantined"]
        for code, n in m["quarantine_by_code"].items():
            summary.by_code[code] = summary.by_code.get(code, 0) + n
    summary.orphans_removed = _remove_orphans(
        s3, contract, bronze_bucket, silver_bucket, replay.day, replay.bronze_keys
    )
    summary.seconds = time.perf_counter() - replay.started
    return summary


def wait_for_partitions(
    s3: Any,
    silver_bucket: str,
    bronze_bucket: str,
    dataset: str,
    replays: list[QueuedReplay],
    timeout: float,
    on_progress: Any = None,
    poll: float = 1.0,
) -> list[tuple[str, int | None]]:
    """Poll the partitions' manifests until every message is answered or `timeout` passes.

    `on_progress(answered, expected)` is called after every poll. Returns what is still
    unanswered (empty when done): a message in the DLQ, or an object deleted meanwhile.
    """
    expected = sum(len(r.expected) for r in replays)
    deadline = time.monotonic() + timeout
    while True:
        waiting = []
        for replay in replays:
            replay.collect(s3, silver_bucket, dataset, bronze_bucket)
            waiting += sorted(replay.expected - replay.answered, key=lambda p: (p[0], p[1] or 0))
        if on_progress is not None:
            on_progress(expected - len(waiting), expected)
        if not waiting or time.monotonic() >= deadline:
            return waiting
        time.sleep(poll)
