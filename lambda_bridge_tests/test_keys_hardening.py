"""Keys from events: any legal S3 key is handled exactly, and no key can make the pipeline
write into its own trigger prefix or onto the local filesystem."""

import ast
import dataclasses
import json
from pathlib import Path

import boto3

from lambda_bridge.idempotency import persistence_layer
from lambda_bridge.ingest import Ingester
from lambda_bridge.ingest import make_handler as make_ingest
from lambda_bridge.keys import part_id, silver_key
from lambda_bridge.transform import Transformer
from lambda_bridge.transform import make_handler as make_transform

from .conftest import GOOD_SHIPMENT
from .test_handlers import Context, put, queue_messages, read_silver, s3_event, sqs_event

REPO = Path(__file__).resolve().parent.parent


def handlers(settings, registry):
    ingest = make_ingest(
        Ingester(
            settings,
            registry,
            boto3.client("sqs"),
            persistence_layer(settings.idempotency_table, boto3.client("dynamodb")),
        )
    )
    transform = make_transform(Transformer(settings, registry, boto3.client("s3")))
    return ingest, transform


def test_a_maximum_length_unicode_key_round_trips_to_silver(mocked, registry):
    s = mocked.settings
    prefix = "bronze/shipments/dt=2026-01-05/ünïcødé +%2B:é "
    name = prefix + "é" * ((1024 - len(prefix.encode()) - len(".jsonl")) // 2)
    key = name + "x" * (1024 - len((name + ".jsonl").encode())) + ".jsonl"
    assert len(key.encode()) == 1024  # S3's maximum
    version = put(s, key, GOOD_SHIPMENT)
    ingest, transform = handlers(s, registry)
    ingest(s3_event(s.bronze_bucket, key, version), Context())
    (message,) = queue_messages(s)
    assert transform(sqs_event(message["Body"]), Context()) == {"batchItemFailures": []}
    out = silver_key("shipments", "2026-01-05", part_id(s.bronze_bucket, key))
    assert len(out) < 100, "output keys do not grow with the input key"
    (row,) = read_silver(s, out)
    assert (row["_source_key"], row["_source_version"]) == (key, version)


def test_outputs_in_the_bronze_bucket_never_trigger_the_pipeline_again(mocked, registry):
    """Even with silver written into the bronze bucket, every output lands outside `bronze/`,
    and a notification for one of them is skipped as a key of no dataset, never enqueued."""
    s = dataclasses.replace(mocked.settings, silver_bucket=mocked.settings.bronze_bucket)
    ingest, transform = handlers(s, registry)
    tricky = [
        "bronze/shipments/dt=2026-01-05/silver/shipments/dt=2026-01-05/a.jsonl",
        "bronze/shipments/../../silver/shipments/b.jsonl",
        "bronze/shipments/bronze/shipments/c.jsonl",
    ]
    for key in tricky:
        version = put(s, key, GOOD_SHIPMENT + b"\n{bad\n")
        ingest(s3_event(s.bronze_bucket, key, version), Context())
    messages = queue_messages(s)
    assert len(messages) == len(tricky)
    assert transform(sqs_event(*[m["Body"] for m in messages]), Context()) == {
        "batchItemFailures": []
    }
    listing = boto3.client("s3").list_objects_v2(Bucket=s.bronze_bucket)["Contents"]
    outputs = [o["Key"] for o in listing if o["Key"] not in tricky]
    assert len(outputs) == 4 * len(tricky)  # silver, quarantine, manifest, index per object
    assert not [k for k in outputs if k.startswith("bronze/")]
    for key in outputs:  # S3 would notify for each of them if the filter were wrong
        ingest(s3_event(s.bronze_bucket, key, None), Context())
    assert queue_messages(s) == []


def test_a_key_naming_another_dataset_inside_its_path_stays_in_its_own_dataset(mocked, registry):
    s = mocked.settings
    key = "bronze/shipments/bronze/tracking_events/x.jsonl"
    assert registry.for_key(key).name == "shipments"
    version = put(s, key, GOOD_SHIPMENT)
    ingest, _ = handlers(s, registry)
    ingest(s3_event(s.bronze_bucket, key, version), Context())
    (message,) = queue_messages(s)
    assert json.loads(message["Body"])["dataset"] == "shipments"


# Calls that touch the local filesystem. Every one in the package must be on this list, with
# where its path comes from; none may come from an S3 key or an event.
_ALLOWED_FILE_WRITES = {
    ("elt_assets/cli/common.py", "mkdir"),  # .elt/dagster_home or DAGSTER_HOME
    # elt gen-events --out PATH (a user argument) and its folder
    ("elt_assets/cli/data.py", "mkdir"),
    ("elt_assets/cli/data.py", "write_bytes"),
    # .elt/local.env (or local up --env-file): elt dev appends ELT_DAGSTER_URL with `open`,
    # and the file is removed when the stack stops
    ("elt_assets/cli/stack_commands.py", "unlink"),
    # elt scaffold: folders from arguments, file names from the dataset name, written only
    # after the contract (and so the name, [a-z][a-z0-9_]*) validated
    ("elt_assets/cli/scaffold.py", "mkdir"),
    ("elt_assets/cli/scaffold.py", "write_text"),
    ("elt_assets/cli/local/stack.py", "mkdir"),  # .elt/local.env's folder, the pg fallback
    # the local warehouse's data directory (.elt/pg or a test's temp dir); postgresql.conf in it
    ("elt_assets/cli/local/postgres.py", "mkdir"),
    ("elt_assets/cli/local/stack.py", "write_text"),  # .elt/local.env
}
_FILE_CALLS = {
    "open", "write_bytes", "write_text", "mkdir", "makedirs", "mkstemp", "NamedTemporaryFile",
    "TemporaryDirectory", "rename", "replace", "unlink", "rmtree", "touch", "symlink_to",
}  # fmt: skip


def test_no_s3_key_ever_becomes_a_local_file_path():
    found = set()
    for package in ("lambda_bridge", "elt_assets"):
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name in _FILE_CALLS:
                        found.add((path.relative_to(REPO).as_posix(), name))
    # `replace` is also str.replace/dataclasses.replace; only file writes matter here.
    writes = {(p, n) for p, n in found if n not in {"replace", "open"}}
    assert writes == _ALLOWED_FILE_WRITES
    opened = {p for p, n in found if n == "open"}
    assert not {p for p in opened if p.startswith("lambda_bridge/")}, "the Lambdas open no files"
