"""Read the pipeline's state back from S3, SQS and DynamoDB: manifests, summaries, one object's fate.

Only boto3 and lambda_bridge: the CLI and the demo use it without loading Dagster.
"""

import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from lambda_bridge.config import Settings
from lambda_bridge.contracts import ContractRegistry
from lambda_bridge.idempotency import (
    IDEMPOTENCY_KEY_PREFIX,
    idempotency_config,
    idempotency_key,
    persistence_layer,
)
from lambda_bridge.keys import index_key, manifest_prefix, part_id
from lambda_bridge.storage import read_json


def iter_manifests(
    s3: Any, silver_bucket: str, dataset: str, day: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every manifest of a dataset (or of one of its partitions).

    A manifest withdrawn between the listing and its read (its key is being reprocessed) is left
    out, as it would be had the listing come a moment later.
    """
    prefix = manifest_prefix(dataset, day)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=silver_bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            manifest = read_json(s3, silver_bucket, item["Key"])
            if manifest is not None:
                yield manifest


@dataclass
class DatasetSummary:
    """Totals over a dataset's manifests, checked against what is really in silver/quarantine."""

    dataset: str
    objects: int = 0
    lines_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    by_code: Counter = field(default_factory=Counter)
    silver_files: int = 0
    silver_rows: int = 0
    quarantine_lines: int = 0
    unbalanced: list[str] = field(default_factory=list)

    @property
    def conserved(self) -> bool:
        """lines_in = rows_out + rows_quarantined for every object, and the files agree."""
        return (
            not self.unbalanced
            and self.lines_in == self.rows_out + self.rows_quarantined
            and self.silver_rows == self.rows_out
            and self.quarantine_lines == self.rows_quarantined
        )


def summarise(s3: Any, silver_bucket: str, dataset: str) -> DatasetSummary:
    """Add up a dataset's manifests and count the rows actually stored under their keys."""
    summary = DatasetSummary(dataset)
    keys: set[str] = set()
    for manifest in iter_manifests(s3, silver_bucket, dataset):
        keys.add(manifest["source"]["key"])  # a split object's chunks are one object
        summary.objects = len(keys)
        summary.lines_in += manifest["lines_in"]
        summary.rows_out += manifest["rows_out"]
        summary.rows_quarantined += manifest["rows_quarantined"]
        summary.by_code.update(manifest.get("quarantine_by_code", {}))
        if manifest["lines_in"] != manifest["rows_out"] + manifest["rows_quarantined"]:
            summary.unbalanced.append(manifest["source"]["key"])
        if manifest.get("silver_key"):
            body = s3.get_object(Bucket=silver_bucket, Key=manifest["silver_key"])["Body"].read()
            summary.silver_files += 1
            summary.silver_rows += pq.ParquetFile(io.BytesIO(body)).metadata.num_rows
        if manifest.get("quarantine_key"):
            body = s3.get_object(Bucket=silver_bucket, Key=manifest["quarantine_key"])[
                "Body"
            ].read()
            summary.quarantine_lines += sum(1 for line in body.splitlines() if line.strip())
    return summary


def where(
    s3: Any,
    dynamodb: Any,
    settings: Settings,
    registry: ContractRegistry,
    bucket: str,
    key: str,
    version_id: str | None = None,
) -> list[str]:
    """What became of one bronze object, as lines of text for a person."""
    out = [f"object      s3://{bucket}/{key}"]
    contract = registry.for_key(key)
    if contract is None:
        prefixes = ", ".join(c.bronze_prefix for c in registry)
        out.append(
            f"dataset     none: the key is under no dataset's prefix ({prefixes}); ingest skips it"
        )
        return out
    out.append(f"dataset     {contract.name}")
    try:
        request = {
            "Bucket": bucket,
            "Key": key,
            **({"VersionId": version_id} if version_id else {}),
        }
        head = s3.head_object(**request)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        out.append(f"bronze      not found ({code})")
        head = None
    if head is not None:
        version = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
        etag = str(head.get("ETag", "")).strip('"')
        out.append(
            f"bronze      version {version or '-'}, etag {etag}, {head['ContentLength']} bytes, "
            f"last modified {head['LastModified'].isoformat()}"
        )
        persistence = persistence_layer(settings.idempotency_table, dynamodb)
        persistence.configure(idempotency_config(), key_prefix=IDEMPOTENCY_KEY_PREFIX)
        item = {"idempotency_key": idempotency_key(bucket, key, version, etag)}
        try:
            record = persistence.get_record(item)
        except Exception:  # Powertools raises IdempotencyItemNotFoundError when there is none
            record = None
        if record is None:
            out.append("ingest      no idempotency record: never ingested, or the record expired")
        else:
            out.append(
                f"ingest      idempotency record {record.status}, expires at epoch {record.expiry_timestamp}"
            )
    pid = part_id(bucket, key)
    index = read_json(s3, settings.silver_bucket, index_key(contract.name, pid))
    if index is None:
        out.append("transform   no manifest yet: not transformed (check the queue and the DLQ)")
        return out
    manifest = read_json(s3, settings.silver_bucket, index["manifest_key"])
    if manifest is None:
        # process_object withdraws a key's manifest while it rewrites that key's outputs.
        out.append(
            "transform   no manifest: being reprocessed, or its reprocessing failed mid-way "
            "(check the queue and the DLQ)"
        )
        return out
    if manifest.get("chunk"):
        return out + _where_chunks(s3, settings.silver_bucket, contract.name, bucket, key, manifest)
    out.append(f"manifest    s3://{settings.silver_bucket}/{index['manifest_key']}")
    out.append(
        f"processed   version {manifest['source']['version_id'] or '-'} at {manifest['processed_at']} "
        f"(partition dt={manifest['dt']})"
    )
    codes = (
        ", ".join(f"{k} {v}" for k, v in manifest.get("quarantine_by_code", {}).items()) or "none"
    )
    balance = (
        "holds"
        if manifest["lines_in"] == manifest["rows_out"] + manifest["rows_quarantined"]
        else "BROKEN"
    )
    out.append(
        f"counts      lines in {manifest['lines_in']} = rows out {manifest['rows_out']} + "
        f"quarantined {manifest['rows_quarantined']} ({codes}); conservation {balance}"
    )
    return out + _outputs(manifest, settings.silver_bucket, "", 11)


def _outputs(manifest: dict[str, Any], silver_bucket: str, indent: str, width: int) -> list[str]:
    """The silver and quarantine files a manifest names, a line each."""
    return [
        f"{indent}{label:<{width}} s3://{silver_bucket}/{out_key}"
        for label, out_key in (
            ("silver", manifest.get("silver_key")),
            ("quarantine", manifest.get("quarantine_key")),
        )
        if out_key
    ]


def _where_chunks(
    s3: Any, silver_bucket: str, dataset: str, bucket: str, key: str, first: dict[str, Any]
) -> list[str]:
    """A split object: each chunk's byte range, counts and outputs, then the object's totals.

    A chunk's `_line` counts from the first line that starts in its byte range, so a row or a
    quarantined line is found in bronze at that range's first line start plus `_line - 1` lines.
    """
    count = first["chunk"]["count"]
    out = [
        f"processed   version {first['source']['version_id'] or '-'} in {count} chunks "
        f"(partition dt={first['dt']}); _line counts within each chunk's byte range"
    ]
    totals = Counter()
    landed = 0
    for index in range(count):
        record = read_json(s3, silver_bucket, index_key(dataset, part_id(bucket, key, index)))
        manifest = read_json(s3, silver_bucket, record["manifest_key"]) if record else None
        if manifest is None or manifest["source"]["version_id"] != first["source"]["version_id"]:
            out.append(f"chunk {index:<5} not transformed yet (check the queue and the DLQ)")
            continue
        landed += 1
        chunk = manifest["chunk"]
        totals.update({k: manifest[k] for k in ("lines_in", "rows_out", "rows_quarantined")})
        out.append(
            f"chunk {index:<5} bytes {chunk['start']:,}-{chunk['end']:,}: lines in "
            f"{manifest['lines_in']:,} = rows out {manifest['rows_out']:,} + quarantined "
            f"{manifest['rows_quarantined']:,}"
        )
        out += _outputs(manifest, silver_bucket, "  ", 9)
    state = "done" if landed == count else f"{landed} of {count} chunks landed"
    out.append(
        f"counts      lines in {totals['lines_in']:,} = rows out {totals['rows_out']:,} + "
        f"quarantined {totals['rows_quarantined']:,} over {count} chunks ({state})"
    )
    return out


def partition_manifests(
    s3: Any, silver_bucket: str, dataset: str, day: str
) -> list[dict[str, Any]]:
    """The manifests of one silver partition."""
    return list(iter_manifests(s3, silver_bucket, dataset, day))


def partition_totals(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """Objects, lines, rows, quarantine by reason and bronze bytes over some manifests."""
    by_code: Counter = Counter()
    for m in manifests:
        by_code.update(m.get("quarantine_by_code", {}))
    # The chunks of a split object are one object of its size.
    sizes = {m["source"]["key"]: m["source"]["size"] for m in manifests}
    return {
        "objects": len(sizes),
        "lines_in": sum(m["lines_in"] for m in manifests),
        "rows_out": sum(m["rows_out"] for m in manifests),
        "rows_quarantined": sum(m["rows_quarantined"] for m in manifests),
        "bytes_in": sum(sizes.values()),
        "quarantine_by_code": dict(sorted(by_code.items())),
    }


def complete_objects(manifests: list[dict[str, Any]]) -> set[str]:
    """The source keys whose outputs are all there: a whole object's manifest, or a manifest
    for every chunk of a split one."""
    chunks: dict[str, set[int]] = {}
    counts: dict[str, int] = {}
    whole = set()
    for m in manifests:
        key, chunk = m["source"]["key"], m.get("chunk")
        if chunk is None:
            whole.add(key)
        else:
            chunks.setdefault(key, set()).add(chunk["index"])
            counts[key] = chunk["count"]
    return whole | {key for key, seen in chunks.items() if seen == set(range(counts[key]))}


def read_silver_files(
    s3: Any, silver_bucket: str, manifests: list[dict[str, Any]]
) -> list[tuple[str, Any]]:
    """(key, pyarrow.Table) for every silver file the manifests name."""
    tables = []
    for manifest in manifests:
        if manifest.get("silver_key"):
            body = s3.get_object(Bucket=silver_bucket, Key=manifest["silver_key"])["Body"].read()
            tables.append((manifest["silver_key"], pq.read_table(io.BytesIO(body))))
    return tables


def partition_table(s3: Any, silver_bucket: str, contract: Any, day: str) -> Any:
    """Silver partition `day` of a dataset as one Arrow table (empty, with silver's schema,
    when nothing landed that day)."""
    import pyarrow as pa

    manifests = list(iter_manifests(s3, silver_bucket, contract.name, day))
    tables = [table for _, table in read_silver_files(s3, silver_bucket, manifests)]
    if not tables:
        return contract.silver_schema.empty_table()
    return pa.concat_tables(tables)


def latest_partitions(
    s3: Any, silver_bucket: str, dataset: str, limit: int = 3
) -> list[tuple[str, dict[str, int]]]:
    """The newest `limit` partitions of a dataset with their totals, newest first.

    Lists the partition folders (one request per 1,000 days), then only those partitions.
    """
    days: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=silver_bucket, Prefix=manifest_prefix(dataset), Delimiter="/"
    ):
        days.extend(
            p["Prefix"].rstrip("/").rsplit("dt=", 1)[-1] for p in page.get("CommonPrefixes", [])
        )
    out = []
    for day in sorted(days, reverse=True)[:limit]:
        out.append((day, partition_totals(partition_manifests(s3, silver_bucket, dataset, day))))
    return out
