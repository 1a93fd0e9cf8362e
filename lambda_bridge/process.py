"""Process one bronze object: read it, parse it, write silver, quarantine and the manifest.

This is the whole transform; the Lambda handler and Dagster's replay both call `process_object`.
Outputs go to deterministic keys (DESIGN §3), so running it again overwrites instead of
duplicating, and the manifest is written last, so a manifest always describes complete outputs.
"""

import base64
import datetime as dt
import io
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from lambda_bridge import __version__
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
from lambda_bridge.parse import RAW_LIMIT, BadLine, ParseResult, parse_object, too_large

PARQUET_COMPRESSION = "zstd"
# Level 1: faster than 3 and, on this data, no larger (bench: compression table).
PARQUET_COMPRESSION_LEVEL = 1
TRANSFORM_VERSION = __version__
_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "404"}
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
        result: The parse result, when processed.
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
        if not _is_missing(exc):
            raise
        return None, None
    return _normalise_version(head.get("VersionId")), head.get("LastModified")


def _is_missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return str(error.get("Code")) in _MISSING_CODES


def process_object(
    s3: Any,
    contract: Contract,
    silver_bucket: str,
    bucket: str,
    key: str,
    version_id: str | None = None,
    *,
    chunk: int | None = None,
    now: dt.datetime | None = None,
    max_bytes: int | None = None,
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
        chunk: The chunk of a split object (None for the whole object).
        now: The `_ingested_at` / `processed_at` time (tests pin it).
        max_bytes: The largest object (once decompressed) to read into memory; a larger one
            is quarantined whole as `too_large` without being read. None: no limit.

    Raises:
        botocore.exceptions.ClientError, BotoCoreError: S3 failed (throttled, network, access);
            the caller retries. boto3.exceptions.S3UploadFailedError: the same, for a quarantine
            file larger than one part (a multipart upload). Bad content never raises: it is
            quarantined.
    """
    started = time.perf_counter()
    version_id = _normalise_version(version_id)
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    try:
        response = s3.get_object(**request)
    except ClientError as exc:
        if _is_missing(exc):
            return Outcome("missing", reason=f"s3://{bucket}/{key} version {version_id} is gone")
        raise
    size = int(response.get("ContentLength") or 0)
    if max_bytes is not None and size > max_bytes:
        body = response["Body"].read(RAW_LIMIT)  # enough to show what it is, no more
        response["Body"].close()
    else:
        body = response["Body"].read()
        size = len(body)
    read_version = _normalise_version(response.get("VersionId"))
    last_modified: dt.datetime = response["LastModified"]

    day = arrival_date(key, last_modified)
    pid = part_id(bucket, key, chunk)
    if version_id:
        # Newest wins: an old version's late event must not overwrite a newer version's rows.
        current, current_modified = _current(s3, bucket, key)
        if current != version_id:
            if current_modified is not None and arrival_date(key, current_modified) != day:
                _withdraw_stale_day(s3, contract, silver_bucket, day, pid)
            return Outcome(
                "stale", reason=f"version {version_id} is not the current version ({current})"
            )

    previous = _read_json(s3, silver_bucket, index_key(contract.name, pid))
    if previous and previous.get("last_modified", "") > last_modified.isoformat():
        return Outcome(
            "stale", reason=f"a newer version ({previous.get('version_id')}) was already processed"
        )

    if len(body) < size:
        result = too_large(contract, body, size, max_bytes or 0)
    else:
        result = parse_object(body, contract, format_of_key(key), max_bytes)
    ingested_at = now or dt.datetime.now(dt.UTC)
    keys = {
        "silver": silver_key(contract.name, day, pid),
        "quarantine": quarantine_key(contract.name, day, pid),
        "manifest": manifest_key(contract.name, day, pid),
    }
    source_version = read_version or ""
    if previous and previous.get("manifest_key") == keys["manifest"]:
        # The manifest is the commit marker: withdraw the old one before its files are
        # overwritten, or a failure before the new manifest leaves it describing other rows.
        s3.delete_object(Bucket=silver_bucket, Key=keys["manifest"])
    if result.rows_out:
        table = with_lineage(result, contract, key, source_version, ingested_at)
        s3.put_object(Bucket=silver_bucket, Key=keys["silver"], Body=to_parquet(table, contract))
    else:
        s3.delete_object(Bucket=silver_bucket, Key=keys["silver"])
    if result.bad:
        _put_quarantine(s3, silver_bucket, keys["quarantine"], result.bad, key, source_version)
    else:
        s3.delete_object(Bucket=silver_bucket, Key=keys["quarantine"])

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
        "chunk": chunk,
        "lines_in": result.lines_in,
        "rows_out": result.rows_out,
        "rows_quarantined": result.rows_quarantined,
        "quarantine_by_code": result.counts_by_code(),
        "silver_key": keys["silver"] if result.rows_out else None,
        "quarantine_key": keys["quarantine"] if result.bad else None,
        "transform_version": TRANSFORM_VERSION,
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
    index = {
        "dt": day,
        "version_id": read_version,
        "last_modified": last_modified.isoformat(),
        "manifest_key": keys["manifest"],
    }
    s3.put_object(
        Bucket=silver_bucket, Key=index_key(contract.name, pid), Body=json.dumps(index).encode()
    )
    if read_version and _redo_depth < _MAX_REDO:
        # Newest wins against an overlapping transform too: a newer version that landed while
        # this ran may have been written, then overwritten here, and its message is gone. So the
        # last writer checks, and writes the current version if it is not the one just written.
        current, _ = _current(s3, bucket, key)
        if current and current != read_version:
            return process_object(
                s3, contract, silver_bucket, bucket, key, current,
                chunk=chunk, now=now, max_bytes=max_bytes, _redo_depth=_redo_depth + 1,
            )  # fmt: skip
    return Outcome("processed", manifest=manifest, result=result)


def _withdraw_stale_day(
    s3: Any, contract: Contract, silver_bucket: str, day: str, pid: str
) -> None:
    """Remove what an earlier, interrupted run of a now-stale version may have left in its day.

    A run that died after its Parquet but before its index leaves files that no index names, and
    the newer version, landed on another day, never learns of them (it cleans up only the day
    its index names). They can only belong to versions older than the current one (an undated
    key's day grows with its versions' LastModified), so they go, unless the index names this
    day: then the current version's own run removes them, as it removes any old day's outputs.
    """
    previous = _read_json(s3, silver_bucket, index_key(contract.name, pid))
    if previous and previous.get("dt") == day:
        return
    for key in (  # the manifest first: it is the commit marker
        manifest_key(contract.name, day, pid),
        silver_key(contract.name, day, pid),
        quarantine_key(contract.name, day, pid),
    ):
        s3.delete_object(Bucket=silver_bucket, Key=key)


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise


def with_lineage(
    result: ParseResult,
    contract: Contract,
    source_key: str,
    source_version: str,
    ingested_at: dt.datetime,
) -> pa.Table:
    """The silver table: the contract's columns, then `_source_key`, `_source_version`, `_line`,
    `_ingested_at`.

    `_source_key` and `_source_version` hold one value for the whole object, so they are built
    dictionary-encoded (the value once, n zero indices): the Parquet writer then stores the
    dictionary as it is instead of hashing n copies of the string. Their Parquet type is the
    contract's plain string (`to_parquet` does not store the in-memory Arrow schema).
    """
    n = result.rows_out
    table = result.table
    lineage = [
        _constant_string(source_key, n),
        _constant_string(source_version, n),
        pa.array(result.lines, pa.int64()),
        pa.repeat(pa.scalar(ingested_at, pa.timestamp("us", tz="UTC")), n),
    ]
    fields = [
        field.with_type(pa.dictionary(pa.int32(), pa.string()))
        if field.name in _CONSTANT
        else field
        for field in contract.silver_schema
    ]
    return pa.Table.from_arrays([*table.columns, *lineage], schema=pa.schema(fields))


_CONSTANT = ("_source_key", "_source_version")


def _constant_string(value: str, n: int) -> pa.DictionaryArray:
    """n copies of `value`, built in C as one dictionary entry and n zero indices."""
    indices = pa.repeat(pa.scalar(0, pa.int32()), n)
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))


def to_parquet(table: pa.Table, contract: Contract | None = None) -> bytes:
    """Silver Parquet bytes, written with `parquet_options`."""
    sink = io.BytesIO()
    pq.write_table(table, sink, **parquet_options(table.column_names, contract))
    return sink.getvalue()


def parquet_options(columns: list[str], contract: Contract | None = None) -> dict[str, Any]:
    """How silver Parquet is written: zstd; dictionary encoding except for columns unique per row.

    A primary key and `_line` hold a new value on every row, so a dictionary only costs time
    (the writer builds one, then falls back to plain encoding when it outgrows its page).
    `_line` counts up, so delta encoding stores it in a few bytes per page.

    The Arrow schema is not stored in the file: every silver type maps to a Parquet logical
    type that reads back as the contract's Arrow type, and a stored schema would make readers
    return the dictionary-encoded lineage columns as dictionaries instead of strings.
    """
    unique = {*(contract.primary_key if contract else ()), "_line"}
    return {
        "compression": PARQUET_COMPRESSION,
        "compression_level": PARQUET_COMPRESSION_LEVEL,
        "use_dictionary": [name for name in columns if name not in unique],
        "column_encoding": {"_line": "DELTA_BINARY_PACKED"} if "_line" in columns else None,
        "store_schema": False,
    }


# The quarantine file is written in parts of this size (S3's minimum part is 5 MiB).
QUARANTINE_PART_BYTES = 8 << 20


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
        if len(out) >= part_bytes:
            yield out
            out = bytearray()
    if out:
        yield out


def _put_quarantine(
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


_QUARANTINE_ENCODER = msgspec.json.Encoder()
