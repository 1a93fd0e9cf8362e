"""`elt demo`: the whole hot path on the embedded stack, and a printed account of what happened."""

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elt_assets.cli.common import console, progress, table
from elt_assets.cli.local.runner import LambdaRunner
from elt_assets.cli.local.stack import WAREHOUSE_DIR, Stack, start_stack
from elt_assets.cli.samples import GeneratedFile, generate
from elt_assets.lib.queues import queue_depths
from elt_assets.lib.state import DatasetSummary, summarise
from lambda_bridge.contracts import ContractRegistry
from lambda_bridge.keys import index_key, part_id


@dataclass
class Upload:
    dataset: str
    key: str
    file: GeneratedFile | None
    version_id: str | None = None


def _plan(day: dt.date) -> list[tuple[str, str, str, int, bool]]:
    """(dataset, format, file name, records, gzip) for every file the demo drops into bronze."""
    return [
        ("shipments", "jsonl", "shipments-0001.jsonl", 2000, False),
        ("shipments", "json", "shipments batch+0002.json", 300, False),  # a space and a plus
        ("shipments", "jsonl", "shipments-0003.jsonl.gz", 1500, True),
        ("tracking_events", "jsonl", "scans-0001.ndjson", 2500, False),
        ("tracking_events", "json", "scans-0002.json", 400, False),
        ("invoice_lines", "jsonl", "invoices-0001.jsonl", 800, False),
        ("invoice_lines", "json", "invoices-0002.json.gz", 200, True),
        ("transactions", "csv", "transactions-0001.csv", 1200, False),
        ("transactions", "csv", "transactions-0002.csv.gz", 600, True),
        # Reference data the transactions_enriched model joins: rates of the week, merchants.
        ("fx_rates", "jsonl", "rates.jsonl", 28, False),
        ("merchants", "jsonl", "merchants.jsonl", 6, False),
    ]


def run_demo(out: Any = None, port: int = 0, timeout: float = 120.0) -> int:
    """Run the demo; return the exit code (0 when every object is accounted for).

    Args:
        out: A rich console to print to (default: stdout).
        port: The moto server's port (0: a free one).
        timeout: Seconds the hot path may take over all the files.
    """
    started = time.perf_counter()
    day = dt.datetime.now(dt.UTC).date()
    out = out or console()
    say = out.print
    say(f"Starting the embedded stack (moto server on 127.0.0.1:{port or 'a free port'}) ...")
    stack = start_stack(port, warehouse_dir=WAREHOUSE_DIR)
    runner = LambdaRunner(stack).start()
    try:
        say(
            f"  endpoint {stack.endpoint}; buckets {stack.settings.bronze_bucket}, "
            f"{stack.settings.silver_bucket}; queue + DLQ (maxReceiveCount 5); idempotency table"
        )
        uploads = _upload_all(stack, day, say)
        _send_duplicate_notification(stack, uploads[0], say)
        with progress(out) as bar:
            task = bar.add_task("the hot path at work: objects transformed", total=len(uploads))
            _wait_for_manifests(
                stack, uploads, runner, timeout, lambda n: bar.update(task, completed=n)
            )
        registry = ContractRegistry.load(stack.settings.contracts_dir)
        summaries = [
            summarise(stack.client("s3"), stack.settings.silver_bucket, c.name) for c in registry
        ]
        ok = _report(stack, uploads, summaries, runner, out)
        ok &= _warehouse(stack, registry, day.isoformat(), out)
    finally:
        runner.stop()
        stack.stop()
    say(f"\nDone in {time.perf_counter() - started:.1f}s; the embedded stack is stopped.")
    return 0 if ok else 1


def _upload_all(stack: Stack, day: dt.date, say) -> list[Upload]:
    s3 = stack.client("s3")
    bucket = stack.settings.bronze_bucket
    uploads: list[Upload] = []
    say(f"\nDropping bronze files for {day} (about 2% bad lines of every kind) ...")
    references = {"fx_rates", "merchants"}  # master data arrives clean
    for seed, (dataset, fmt, name, count, gz) in enumerate(_plan(day)):
        bad = 0.0 if dataset in references else 0.02
        file = generate(dataset, fmt, count, bad_ratio=bad, seed=seed, day=day, compress=gz)
        key = f"bronze/{dataset}/dt={day}/{name}"
        uploads.append(Upload(dataset, key, file, _put(s3, bucket, key, file.data)))
        say(
            f"  s3://{bucket}/{key}  ({count} records, {file.bad_total} bad, {len(file.data):,} bytes)"
        )
    poison_key = f"bronze/shipments/dt={day}/truncated-upload.jsonl.gz"
    poison = generate("shipments", "jsonl", 200, seed=99, day=day, compress=True).data[:-200]
    uploads.append(Upload("shipments", poison_key, None, _put(s3, bucket, poison_key, poison)))
    say(f"  s3://{bucket}/{poison_key}  (a poison file: truncated gzip)")
    stray = "bronze/unknown_feed/stray.jsonl"
    s3.put_object(Bucket=bucket, Key=stray, Body=b'{"hello": "world"}\n')
    say(f"  s3://{bucket}/{stray}  (under no dataset: logged and skipped)")
    return uploads


def _put(s3: Any, bucket: str, key: str, body: bytes) -> str | None:
    return s3.put_object(Bucket=bucket, Key=key, Body=body).get("VersionId")


def _send_duplicate_notification(stack: Stack, upload: Upload, say) -> None:
    """S3 delivers notifications at least once: deliver the first object's event a second time."""
    from urllib.parse import quote_plus

    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "eventTime": dt.datetime.now(dt.UTC).isoformat(),
                "s3": {
                    "bucket": {"name": stack.settings.bronze_bucket},
                    "object": {"key": quote_plus(upload.key), "versionId": upload.version_id},
                },
            }
        ]
    }
    stack.client("sqs").send_message(
        QueueUrl=stack.notifications_queue_url, MessageBody=json.dumps(event)
    )
    say(f"  (and S3's notification for {upload.key.rsplit('/', 1)[-1]} delivered twice, as S3 may)")


def _wait_for_manifests(
    stack: Stack,
    uploads: list[Upload],
    runner: LambdaRunner,
    timeout: float,
    done: Callable[[int], None],
) -> None:
    s3 = stack.client("s3")
    silver = stack.settings.silver_bucket
    deadline = time.monotonic() + timeout
    waiting = list(uploads)
    while waiting:
        still = []
        for upload in waiting:
            try:
                index = json.loads(
                    s3.get_object(
                        Bucket=silver,
                        Key=index_key(
                            upload.dataset, part_id(stack.settings.bronze_bucket, upload.key)
                        ),
                    )["Body"].read()
                )
            except s3.exceptions.NoSuchKey:
                still.append(upload)
                continue
            if index.get("version_id") != upload.version_id:
                still.append(upload)
        waiting = still
        done(len(uploads) - len(waiting))
        if waiting and time.monotonic() > deadline:
            msg = f"{len(waiting)} objects were not transformed within {timeout:.0f}s"
            raise TimeoutError(msg)
        if waiting:
            time.sleep(0.1)
    runner.drain(timeout=30)


def _report(
    stack: Stack, uploads: list[Upload], summaries: list[DatasetSummary], runner: LambdaRunner, out
) -> bool:
    say = out.print
    say(
        "\nWhat the hot path made of it (read back from the manifests, Parquet and quarantine files):"
    )
    summary = table(
        "dataset",
        ">objects",
        ">lines in",
        ">rows out",
        ">quarant.",
        ">silver files",
        "conservation",
        "quarantined by reason",
    )
    ok = True
    for s in summaries:
        reasons = ", ".join(f"{code} {n}" for code, n in sorted(s.by_code.items())) or "-"
        ok &= s.conserved
        summary.add_row(
            s.dataset,
            f"{s.objects}",
            f"{s.lines_in:,}",
            f"{s.rows_out:,}",
            f"{s.rows_quarantined:,}",
            f"{s.silver_files}",
            "holds" if s.conserved else "BROKEN",
            reasons,
            end_section=s is summaries[-1],
        )
    total = Counter()
    for s in summaries:
        total.update(
            {
                "objects": s.objects,
                "lines": s.lines_in,
                "rows": s.rows_out,
                "bad": s.rows_quarantined,
            }
        )
    summary.add_row(
        "total",
        f"{total['objects']}",
        f"{total['lines']:,}",
        f"{total['rows']:,}",
        f"{total['bad']:,}",
    )
    say(summary)

    expected_bad = sum(u.file.bad_total for u in uploads if u.file) + sum(
        1 for u in uploads if u.file is None
    )
    found_bad = sum(s.rows_quarantined for s in summaries)
    say(
        f"Bad lines injected: {expected_bad}; quarantined with a reason: {found_bad}"
        f" -> {'every one accounted for' if expected_bad == found_bad else 'MISMATCH'}"
    )
    ok &= expected_bad == found_bad
    sqs = stack.client("sqs")
    dlq = queue_depths(sqs, stack.settings.dlq_url)
    queue = queue_depths(sqs, stack.settings.queue_url)
    stats = runner.stats
    say(
        f"Ingest: {stats.ingest_invocations} S3 notifications -> {stats.objects_enqueued} queue messages; "
        f"{stats.duplicate_deliveries} duplicate delivery skipped by the idempotency record; "
        f"{stats.unknown_dataset_keys} key under no dataset skipped."
    )
    say(
        f"Transform: {stats.transform_batches} SQS batches, {stats.messages_succeeded} messages done, "
        f"{stats.messages_failed} failed."
    )
    say(
        f"Queues: events {queue['visible'] + queue['in_flight']} pending, DLQ {dlq['visible']} "
        f"(the poison file is quarantined, not stuck in the DLQ)."
    )
    ok &= dlq["visible"] == 0 and stats.messages_succeeded == len(uploads)
    ok &= stats.duplicate_deliveries == 1 and stats.unknown_dataset_keys == 1
    say(
        f"\nSilver: s3://{stack.settings.silver_bucket}/silver/<dataset>/dt=<D>/part-<id>.parquet; "
        f"quarantine and manifests beside it."
    )
    say("Conservation holds for every object." if ok else "SOMETHING DID NOT ADD UP: see above.")
    return ok


def _warehouse(stack: Stack, registry: ContractRegistry, day: str, out) -> bool:
    """Silver and the gold models into the warehouse, as Dagster's `warehouse/*` assets load
    them, then read back with SQL: every table's rows equal what silver and gold hold."""
    from elt_assets.lib.models import S3Tables, load_models, run_model, write_model_output
    from elt_assets.lib.state import partition_manifests, partition_table, partition_totals
    from elt_assets.lib.warehouse import load_partition, run_query

    say = out.print
    url, s3, bucket = stack.warehouse.url, stack.client("s3"), stack.settings.silver_bucket
    say(f"\nThe warehouse ({url}): silver and the gold models of {day}, loaded per partition ...")
    expected: dict[str, int] = {}
    for contract in registry:
        rows = partition_table(s3, bucket, contract, day)
        load_partition(url, "silver", contract.name, day, rows)
        # Silver's rows as the manifests count them, not as just read: an independent tally.
        manifests = partition_manifests(s3, bucket, contract.name, day)
        expected[f"silver.{contract.name}"] = partition_totals(manifests)["rows_out"]
    models = load_models(registry=registry)
    tables = S3Tables(s3, bucket, registry, models)
    for model in models:  # in dependency order
        rows = run_model(model, day, tables, registry)
        write_model_output(s3, bucket, model.name, day, rows)
        load_partition(url, "gold", model.name, day, rows)
        expected[f"gold.{model.name}"] = rows.num_rows
    result = table("table", ">rows in the warehouse", ">rows in silver / gold", "agree")
    ok = True
    for name, count in expected.items():
        schema, table_name = name.split(".")
        _, found = run_query(
            url, f'SELECT count(*) FROM "{schema}"."{table_name}" WHERE dt = \'{day}\''
        )
        agree = found[0][0] == count
        ok &= agree
        result.add_row(name, f"{found[0][0]:,}", f"{count:,}", "yes" if agree else "NO")
    say(result)
    _, carriers = run_query(
        url,
        "SELECT carrier, sum(shipments) FROM gold.shipments_by_carrier GROUP BY 1 ORDER BY 2 DESC",
    )
    top = ", ".join(f"{c} {n}" for c, n in carriers[:3])
    say(f"Busiest carriers (`elt sql` on gold.shipments_by_carrier): {top}")
    return ok
