"""Process one bronze object: read it, parse it, write silver, quarantine and the manifest.

This is the whole transform; the Lambda handler and Dagster's replay both call `process_object`.
Outputs go to deterministic keys (DESIGN §3), so running it again overwrites instead of
duplicating, and the manifest is written last, so a manifest always describes complete outputs.
An object that cannot be split into chunks (gzip, CSV) is streamed in blocks (`stream`).
"""

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambda_bridge import __version__
from lambda_bridge.chunk_reader import object_size, read_chunk
from lambda_bridge.chunks import DEFAULT_CHUNK_BYTES, Chunk, plan_chunks
from lambda_bridge.contracts import Contract
from lambda_bridge.keys import (
    arrival_date,
    format_of_key,
    index_key,
    manifest_key,
    part_id,
    quarantine_key,
    silver_key,
)
from lambda_bridge.outputs import Outputs, Target, WholeOutputs
from lambda_bridge.parse import ParseResult, parse_object
from lambda_bridge.storage import is_missing, read_json
from lambda_bridge.stream import read_object

TRANSFORM_VERSION = __version__
# The manifest's `writer`: the transform Lambda, or a Dagster replay (which reports its own
# materialization, so Dagster's landings sensor must not report the same files again).
WRITER_TRANSFORM, WRITER_REPLAY = "transform", "replay"
# How many times one call writes a newer version it found had landed meanwhile (see the end of
# process_object); under faster churn each newer version's own message does the rest.
_MAX_REDO = 3


@dataclass(frozen=True)
class Outcome:
    """What `process_object` did.

    Attributes:
        status: `processed`; `stale` (a newer version of the key exists, nothing written);
            `missing` (the object or version is gone, nothing to do).
        manifest: The manifest written, when processed.
        result: The parse result, when processed whole (a streamed object has none: its rows
            went out a block at a time).
    """

    status: str
    manifest: dict[str, Any] | None = None
    result: ParseResult | None = None
    reason: str = ""


def _normalise_version(version: str | None) -> str | None:
    return None if version in (None, "", "null") else version


def _current(s3: Any, bucket: str, key: str) -> tuple[str | None, dt.datetime | None]:
    """The key's current version id (None when unversioned) and LastModified (both None when
    the key is deleted)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if not is_missing(exc):
            raise
        return None, None
    return _normalise_version(head.get("VersionId")), head.get("LastModified")


def process_object(
    s3: Any,
    contract: Contract,
    silver_bucket: str,
    bucket: str,
    key: str,
    version_id: str | None = None,
    *,
    chunk: Chunk | None = None,
    now: dt.datetime | None = None,
    max_bytes: int | None = None,
    writer: str = WRITER_TRANSFORM,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    deadline: float | None = None,
    late_retries: bool = False,
    _redo_depth: int = 0,
) -> Outcome:
    """Transform one bronze object version into silver, quarantine and a manifest.

    Args:
        s3: A boto3 S3 client.
        contract: The dataset's contract.
        silver_bucket: Where outputs go.
        bucket: The bronze bucket.
        key: The decoded bronze key.
        version_id: The version to process; None for the current one.
        chunk: The chunk of a split object (None for the whole object): only the lines that
            start in its byte range are read, and it has outputs of its own.
        now: The `_ingested_at` / `processed_at` time (tests pin it).
        max_bytes: The largest object (once decompressed) to read into memory; a larger one
            is quarantined whole as `too_large` without being read. None: no limit. A streamed
            object (gzip JSONL or CSV, a CSV over a block) has no size limit: this is then the
            longest record it may hold.
        writer: Who runs it, recorded in the manifest: `transform` (the Lambda) or `replay`
            (Dagster, which then reports the partition itself, so its sensor skips these).
        chunk_bytes: How ingest splits objects (ELT_CHUNK_BYTES): a newer version found
            meanwhile is split the same way; a streamed object's blocks are no larger.
        deadline: `time.monotonic()` by which a streamed object must be done; past it, it is
            quarantined whole as `too_large` (it cannot finish within the function's time).
            None: no limit.
        late_retries: Past the deadline, raise `stream.DeadlineExceeded` instead (the caller
            started this object late in its time, so a retry may finish it).

    Raises:
        botocore.exceptions.ClientError, BotoCoreError: S3 failed (throttled, network, access);
            the caller retries. boto3.exceptions.S3UploadFailedError: the same, for a quarantine
            file larger than one part (a multipart upload). stream.DeadlineExceeded: see
            `late_retries`. Bad content never raises: it is quarantined.
    """
    started = time.perf_counter()
    version_id = _normalise_version(version_id)
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    body = b""
    try:
        if chunk is not None:
            # Bounded by the chunk, not the object: max_bytes is the whole object's limit.
            body, response = read_chunk(s3, request, chunk)
            size = object_size(response)
        else:
            response = s3.get_object(**request)  # its body is read once the version is current
            size = int(response.get("ContentLength") or 0)
    except ClientError as exc:
        if is_missing(exc):
            return Outcome("missing", reason=f"s3://{bucket}/{key} version {version_id} is gone")
        if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
            # An unversioned key overwritten between a chunk's ranges: the new object's own
            # notification processes it.
            return Outcome("stale", reason=f"s3://{bucket}/{key} changed while it was read")
        raise
    read_version = _normalise_version(response.get("VersionId"))
    last_modified: dt.datetime = response["LastModified"]
    unread = None if chunk is not None else response["Body"]

    day = arrival_date(key, last_modified)
    pid = part_id(bucket, key, chunk.index if chunk else None)
    if version_id:
        # Newest wins: an old version's late event must not overwrite a newer version's rows.
        current, current_modified = _current(s3, bucket, key)
        if current != version_id:
            _close(unread)
            index = read_json(s3, silver_bucket, index_key(contract.name, pid))
            if current and index and index.get("version_id") == version_id:
                if _redo_depth < _MAX_REDO:
                    # This version committed last, so the last writer's check (the end of this
                    # function) may have failed before it could write the newer version, whose
                    # message is then gone: this retry is its only chance.
                    return _redo(
                        s3, contract, silver_bucket, bucket, key, current, chunk,
                        now=now, max_bytes=max_bytes, writer=writer, chunk_bytes=chunk_bytes,
                        deadline=deadline, late_retries=late_retries, _redo_depth=_redo_depth + 1,
                    )  # fmt: skip
            elif current_modified is not None and arrival_date(key, current_modified) != day:
                _withdraw_stale_day(s3, contract, silver_bucket, day, pid, index)
            return Outcome(
                "stale", reason=f"version {version_id} is not the current version ({current})"
            )

    previous = read_json(s3, silver_bucket, index_key(contract.name, pid))
    if previous and previous.get("last_modified", "") > last_modified.isoformat():
        # A newer version landed and committed after the check above: this version is as stale
        # as if S3 had said so, and an earlier attempt of it may have left files on its day.
        _close(unread)
        _withdraw_stale_day(s3, contract, silver_bucket, day, pid, previous)
        return Outcome(
            "stale", reason=f"a newer version ({previous.get('version_id')}) was already processed"
        )

    ingested_at = now or dt.datetime.now(dt.UTC)
    keys = {
        "silver": silver_key(contract.name, day, pid),
        "quarantine": quarantine_key(contract.name, day, pid),
        "manifest": manifest_key(contract.name, day, pid),
    }
    target = Target(
        s3, silver_bucket, keys["silver"], keys["quarantine"], key, read_version or "", ingested_at
    )
    outputs: Outputs
    if unread is None:
        outputs = WholeOutputs(parse_object(body, contract, format_of_key(key)), contract, target)
    else:
        outputs = read_object(
            unread, size, contract, target, fmt=format_of_key(key), chunk_bytes=chunk_bytes,
            max_bytes=max_bytes, deadline=deadline, late_retries=late_retries,
        )  # fmt: skip
    try:
        if previous and previous.get("manifest_key") == keys["manifest"]:
            # The manifest is the commit marker: withdraw the old one before its files are
            # overwritten, or a failure before the new manifest leaves it describing other rows.
            s3.delete_object(Bucket=silver_bucket, Key=keys["manifest"])
        outputs.write()
    finally:
        outputs.close()  # a streamed object's uploads, if not completed

    manifest = {
        "dataset": contract.name,
        "dt": day,
        "source": {
            "bucket": bucket,
            "key": key,
            "version_id": read_version,
            "etag": str(response.get("ETag", "")).strip('"'),
            "size": size,
            "last_modified": last_modified.isoformat(),
        },
        "chunk": chunk.to_dict() if chunk else None,
        "lines_in": outputs.lines_in,
        "rows_out": outputs.rows_out,
        "rows_quarantined": outputs.rows_quarantined,
        "quarantine_by_code": outputs.counts_by_code(),
        "silver_key": keys["silver"] if outputs.rows_out else None,
        "quarantine_key": keys["quarantine"] if outputs.rows_quarantined else None,
        "transform_version": TRANSFORM_VERSION,
        "writer": writer,
        "contract_fingerprint": contract.fingerprint,
        "processed_at": ingested_at.isoformat(),
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    s3.put_object(
        Bucket=silver_bucket,
        Key=keys["manifest"],
        Body=json.dumps(manifest, indent=2).encode(),
        ContentType="application/json",
    )
    if previous and previous.get("dt") not in (None, day):
        # The key's previous version was dated another day: its rows must not survive there.
        old = previous["dt"]
        for old_key in (
            silver_key(contract.name, old, pid),
            quarantine_key(contract.name, old, pid),
            manifest_key(contract.name, old, pid),
        ):
            s3.delete_object(Bucket=silver_bucket, Key=old_key)
    chunks = chunk.count if chunk else 1
    index = {
        "dt": day,
        "version_id": read_version,
        "last_modified": last_modified.isoformat(),
        "manifest_key": keys["manifest"],
        "chunks": chunks,
    }
    s3.put_object(
        Bucket=silver_bucket, Key=index_key(contract.name, pid), Body=json.dumps(index).encode()
    )
    if (chunk is None or chunk.index == 0) and previous and previous.get("chunks", 1) > chunks:
        # A new version with fewer chunks: the old version's extra chunks must not survive.
        for extra in range(chunks, previous["chunks"]):
            _withdraw_chunk(s3, contract, silver_bucket, bucket, key, extra)
    if read_version and _redo_depth < _MAX_REDO:
        # Newest wins against an overlapping transform too: a newer version that landed while
        # this ran may have been written, then overwritten here, and its message is gone. So the
        # last writer checks, and writes the current version if it is not the one just written.
        current, _ = _current(s3, bucket, key)
        if current and current != read_version:
            return _redo(
                s3, contract, silver_bucket, bucket, key, current, chunk,
                now=now, max_bytes=max_bytes, writer=writer, chunk_bytes=chunk_bytes,
                deadline=deadline, late_retries=late_retries, _redo_depth=_redo_depth + 1,
            )  # fmt: skip
    return Outcome("processed", manifest=manifest, result=outputs.result)


def _close(body: Any) -> None:
    """Release the GET of a body that will not be read (None: a chunk, already read)."""
    if body is not None:
        body.close()


def _redo(
    s3: Any,
    contract: Contract,
    silver_bucket: str,
    bucket: str,
    key: str,
    current: str,
    chunk: Chunk | None,
    **options: Any,
) -> Outcome:
    """Process the current version in this call's place: its own chunk of the same index, split
    as ingest splits it (a newer version may have more chunks, fewer, or none)."""
    index = chunk.index if chunk else 0
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=current)
    plan = plan_chunks(key, int(head.get("ContentLength") or 0), options["chunk_bytes"])
    if plan is None and index == 0:
        return process_object(s3, contract, silver_bucket, bucket, key, current, **options)
    if plan is not None and index < len(plan):
        return process_object(
            s3, contract, silver_bucket, bucket, key, current, chunk=plan[index], **options
        )
    _withdraw_chunk(s3, contract, silver_bucket, bucket, key, index)
    return Outcome("stale", reason=f"the current version ({current}) has no chunk {index}")


def _withdraw_chunk(
    s3: Any, contract: Contract, silver_bucket: str, bucket: str, key: str, index: int
) -> None:
    """Remove one chunk's outputs and index record (where its index says they are)."""
    pid = part_id(bucket, key, index)
    record = read_json(s3, silver_bucket, index_key(contract.name, pid))
    if record is None:
        return
    day = record["dt"]
    for out_key in (  # the manifest first: it is the commit marker
        manifest_key(contract.name, day, pid),
        silver_key(contract.name, day, pid),
        quarantine_key(contract.name, day, pid),
        index_key(contract.name, pid),
    ):
        s3.delete_object(Bucket=silver_bucket, Key=out_key)


def _withdraw_stale_day(
    s3: Any, contract: Contract, silver_bucket: str, day: str, pid: str, index: dict | None
) -> None:
    """Remove what an earlier, interrupted run of a now-stale version may have left in its day.

    A run that died after its Parquet but before its index leaves files that no index names, and
    the newer version, landed on another day, never learns of them (it cleans up only the day
    its index names). So whichever check finds a run stale, S3's current version or the `index`
    (the key's index record, already read by the caller), the stale run removes them. They can
    only belong to versions older than the current one (an undated key's day grows with its
    versions' LastModified), so they go, unless the index names this day: then the current
    version's own run removes them, as it removes any old day's outputs, or they are its own.
    """
    if index and index.get("dt") == day:
        return
    for key in (  # the manifest first: it is the commit marker
        manifest_key(contract.name, day, pid),
        silver_key(contract.name, day, pid),
        quarantine_key(contract.name, day, pid),
    ):
        s3.delete_object(Bucket=silver_bucket, Key=key)
