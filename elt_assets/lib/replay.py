"""Replay: re-run the hot path's transform over one day's bronze objects.

No Dagster here: the silver asset calls `replay_partition`, and so can anything else. A replay
writes the same deterministic keys as the Lambda, so running it twice, or after the hot path,
leaves the same rows.
"""

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambda_bridge.contracts import Contract
from lambda_bridge.keys import dt_from_key, index_key, manifest_prefix, part_id
from lambda_bridge.process import WRITER_REPLAY, process_object
from lambda_bridge.storage import is_missing, read_json


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
    s3: Any, contract: Contract, bronze_bucket: str, silver_bucket: str, day: str
) -> ReplaySummary:
    """Transform every current bronze object of `day` again, and drop outputs of deleted ones."""
    started = time.perf_counter()
    summary = ReplaySummary(contract.name, day)
    seen: set[str] = set()
    for item in iter_bronze_objects(s3, bronze_bucket, contract, day):
        seen.add(item["Key"])
        outcome = process_object(
            s3, contract, silver_bucket, bronze_bucket, item["Key"], writer=WRITER_REPLAY
        )
        if outcome.status != "processed" or outcome.manifest is None:
            summary.skipped += 1
            continue
        m = outcome.manifest
        summary.objects += 1
        summary.lines_in += m["lines_in"]
        summary.rows_out += m["rows_out"]
        summary.rows_quarantined += m["rows_quarantined"]
        summary.bytes_in += m["source"]["size"]
        for code, n in m["quarantine_by_code"].items():
            summary.by_code[code] = summary.by_code.get(code, 0) + n
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
            pid = part_id(source["bucket"], source["key"], manifest.get("chunk"))
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
