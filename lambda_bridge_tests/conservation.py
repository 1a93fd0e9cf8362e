"""Record conservation, checked from what is stored (shared by the fault tests of both suites).

`assert_conserved` reads every silver Parquet file, quarantine JSONL file and manifest of a
dataset back from the silver bucket and checks, for JSONL inputs, that every non-blank input
line is in silver or in quarantine exactly once (no duplicate row, none lost, none invented),
that each silver row is the line it claims to be, and that each object has one manifest whose
counts, keys and version agree with the files.
"""

import io
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from lambda_bridge.contracts import Contract


@dataclass(frozen=True)
class Stored:
    """What the silver bucket holds for one dataset, keyed by source key."""

    silver: dict[str, list[dict[str, Any]]]  # source key -> rows (with the file they are in)
    quarantine: dict[str, list[dict[str, Any]]]  # source key -> quarantine records
    manifests: dict[str, list[dict[str, Any]]]  # source key -> manifests naming it
    files: dict[str, set[str]]  # "silver" / "quarantine" -> every object key under that prefix


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(item["Key"] for item in page.get("Contents", []))
    return out


def read_stored(s3: Any, bucket: str, dataset: str) -> Stored:
    silver: dict[str, list[dict[str, Any]]] = {}
    quarantine: dict[str, list[dict[str, Any]]] = {}
    manifests: dict[str, list[dict[str, Any]]] = {}
    files: dict[str, set[str]] = {"silver": set(), "quarantine": set()}
    for key in _keys(s3, bucket, f"silver/{dataset}/"):
        files["silver"].add(key)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        for row in pq.read_table(io.BytesIO(body)).to_pylist():
            silver.setdefault(row["_source_key"], []).append({**row, "_file": key})
    for key in _keys(s3, bucket, f"quarantine/{dataset}/"):
        files["quarantine"].add(key)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        for line in body.splitlines():
            if line.strip():
                record = json.loads(line)
                quarantine.setdefault(record["_source_key"], []).append({**record, "_file": key})
    for key in _keys(s3, bucket, f"_manifests/{dataset}/"):
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        manifests.setdefault(manifest["source"]["key"], []).append({**manifest, "_file": key})
    return Stored(silver, quarantine, manifests, files)


def input_lines(body: bytes) -> dict[int, bytes]:
    """The records of a JSONL object: 1-based physical line number -> line (blank lines skipped)."""
    return {no: line for no, line in enumerate(body.split(b"\n"), start=1) if line.strip()}


def assert_conserved(
    s3: Any,
    bucket: str,
    contract: Contract,
    inputs: dict[str, tuple[bytes, str | None]],
) -> Stored:
    """Every input line in silver or quarantine exactly once, and the manifests agree.

    Args:
        s3: A boto3 S3 client.
        bucket: The silver bucket.
        contract: The dataset's contract.
        inputs: Bronze key -> (the bytes of its current version (JSONL), that version's id, or
            None not to check the version). These must be all the dataset's objects.

    Returns:
        What was read, for further assertions.
    """
    stored = read_stored(s3, bucket, contract.name)
    assert set(stored.silver) <= set(inputs), (
        f"silver rows of unknown objects: {set(stored.silver) - set(inputs)}"
    )
    assert set(stored.quarantine) <= set(inputs), (
        f"quarantined lines of unknown objects: {set(stored.quarantine) - set(inputs)}"
    )
    assert set(stored.manifests) == set(inputs), (
        f"manifests for {sorted(stored.manifests)}, objects {sorted(inputs)}"
    )
    named: dict[str, set[str]] = {"silver": set(), "quarantine": set()}
    for key, (body, version) in inputs.items():
        expected = input_lines(body)
        rows = stored.silver.get(key, [])
        bad = stored.quarantine.get(key, [])
        good_lines = Counter(r["_line"] for r in rows)
        bad_lines = Counter(b["_line"] for b in bad)
        assert not [n for n, c in good_lines.items() if c > 1], f"{key}: duplicate silver rows"
        assert not [n for n, c in bad_lines.items() if c > 1], f"{key}: duplicate quarantine lines"
        assert not set(good_lines) & set(bad_lines), f"{key}: lines both in silver and quarantine"
        assert set(good_lines) | set(bad_lines) == set(expected), (
            f"{key}: lost {sorted(set(expected) - set(good_lines) - set(bad_lines))}, "
            f"invented {sorted((set(good_lines) | set(bad_lines)) - set(expected))}"
        )
        for row in rows:  # each row is the line it names (not just a count that happens to match)
            source = json.loads(expected[row["_line"]])
            for column in contract.primary_key:
                assert row[column] == source[column], (key, row["_line"], column)
        for record in bad:
            assert record["raw"] == expected[record["_line"]].decode("utf-8", errors="replace")
        if version is not None:
            versions = {r["_source_version"] for r in rows} | {b["_source_version"] for b in bad}
            assert versions <= {version}, f"{key}: rows of versions {versions}, expected {version}"

        (manifest,) = stored.manifests[key]  # exactly one manifest per object
        assert manifest["lines_in"] == len(expected), key
        assert manifest["rows_out"] == len(rows), key
        assert manifest["rows_quarantined"] == len(bad), key
        assert manifest["lines_in"] == manifest["rows_out"] + manifest["rows_quarantined"]
        assert {r["_file"] for r in rows} == ({manifest["silver_key"]} if rows else set()), key
        assert {b["_file"] for b in bad} == ({manifest["quarantine_key"]} if bad else set()), key
        if version is not None:
            assert manifest["source"]["version_id"] == version, key
        named["silver"].update({manifest["silver_key"]} - {None})
        named["quarantine"].update({manifest["quarantine_key"]} - {None})
    # No file outside a manifest (a half-written leftover in another partition, say).
    assert stored.files == named, f"files no manifest names: {stored.files}, named {named}"
    return stored
