"""`elt redrive`, `elt status` and `elt where`: operating a running pipeline."""

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from elt_assets.cli.common import (
    DAGSTER_HOME,
    S3Uri,
    console,
    progress,
    quiet_dagster,
    settings,
    table,
)

_ERRORS_SHOWN = 5


@click.command()
@click.option("--max", "max_messages", type=click.IntRange(min=0), help="Move at most this many.")
@click.option("--dry-run", is_flag=True, help="Count the DLQ's messages, move nothing.")
def redrive(max_messages: int | None, dry_run: bool) -> int:
    """Move DLQ messages back to the events queue."""
    import boto3

    from elt_assets.lib.queues import queue_depths
    from elt_assets.lib.redrive import redrive as move

    config = settings("queue_url", "dlq_url")
    sqs = boto3.client("sqs")
    out = console()
    if dry_run:
        result = move(sqs, config.dlq_url, config.queue_url, dry_run=True)
        out.print(f"would move {result.seen} messages from the DLQ to the events queue (dry run)")
        return 0
    urls = {"DLQ": config.dlq_url, "events queue": config.queue_url}
    before = {name: queue_depths(sqs, url) for name, url in urls.items()}
    visible = before["DLQ"]["visible"]
    wanted = visible if max_messages is None else min(max_messages, visible)
    watcher = boto3.client("sqs")  # its own client: it polls from another thread
    result = _with_progress(
        out,
        wanted,
        lambda: _pending(watcher, config.dlq_url),
        lambda: move(sqs, config.dlq_url, config.queue_url, max_messages=max_messages),
    )
    after = {name: queue_depths(sqs, url) for name, url in urls.items()}
    how = {
        "move_task": "StartMessageMoveTask: SQS moves them in the background",
        "receive_send_delete": "receive -> send -> delete",
    }.get(result.method, result.method)
    out.print(
        f"moved {result.moved} messages from the DLQ to the events queue ({how}); "
        f"{result.failed} failed"
    )
    summary = table("queue", ">before", ">after")
    for name in urls:
        summary.add_row(name, f"{_depth(before[name]):,}", f"{_depth(after[name]):,}")
    out.print(summary)
    if result.failed or result.errors:
        errors = "; ".join(result.errors[:_ERRORS_SHOWN])
        msg = f"{result.failed} messages could not be moved and stay in the DLQ: {errors}"
        console(stderr=True).print(f"elt: {msg}")
    return 1 if result.failed else 0


def _depth(depths: dict[str, int]) -> int:
    return depths["visible"] + depths["in_flight"]


def _pending(sqs: Any, url: str) -> int:
    from elt_assets.lib.queues import queue_depths

    return _depth(queue_depths(sqs, url))


def _with_progress(
    out: Any, wanted: int, pending: Callable[[], int], work: Callable[[], Any]
) -> Any:
    """Run `work` under a progress bar that follows the DLQ draining (polled beside it).

    A message counts as moved once it has left the DLQ: received ones stay "in flight" there
    until their copy is sent and they are deleted.
    """
    if not wanted:
        return work()
    start = pending()
    with progress(out) as bar:
        task = bar.add_task("moving DLQ messages", total=wanted)
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.5):
                bar.update(task, completed=min(wanted, max(0, start - pending())))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            result = work()
        finally:
            done.set()
            watcher.join()
        bar.update(task, completed=min(wanted, result.moved))
    return result


@click.command()
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="How many recent partitions per dataset.",
)
def status(days: int) -> int:
    """Queue/DLQ depths and the latest partitions per dataset.

    Per dataset: the newest partitions with their objects, rows, quarantined lines and the
    outcome of their checks (from the Dagster instance, when there is one).
    """
    import boto3

    from elt_assets.lib.queues import queue_depths
    from elt_assets.lib.state import latest_partitions
    from lambda_bridge.contracts import ContractRegistry

    config = settings("silver_bucket", "queue_url", "dlq_url")
    sqs, s3 = boto3.client("sqs"), boto3.client("s3")
    out = console()
    queues = table("queue", ">visible", ">in flight", ">delayed", "", title="Queues")
    for name, url in (("events queue", config.queue_url), ("DLQ", config.dlq_url)):
        depth = queue_depths(sqs, url)
        hint = "run `elt redrive`" if name == "DLQ" and depth["visible"] else ""
        queues.add_row(name, *(f"{depth[k]:,}" for k in ("visible", "in_flight", "delayed")), hint)
    out.print(queues)

    outcomes = _check_outcomes_by_partition()
    partitions = table(
        "dataset", "dt", ">objects", ">rows", ">quarantined", "checks", title="Latest partitions"
    )
    for contract in ContractRegistry.load(config.contracts_dir):
        found = latest_partitions(s3, config.silver_bucket, contract.name, days)
        if not found:
            partitions.add_row(contract.name, "-", "0", "0", "0", "-")
        for day, totals in found:
            partitions.add_row(
                contract.name,
                day,
                f"{totals['objects']:,}",
                f"{totals['rows_out']:,}",
                f"{totals['rows_quarantined']:,}",
                _verdict(outcomes(day, contract.name)),
            )
    out.print(partitions)
    return 0


def _verdict(found: list[Any]) -> str:
    if not found:
        return "not run"
    if all(o.passed for o in found):
        return f"passed {len(found)}/{len(found)}"
    return "FAILED: " + ", ".join(o.name for o in found if not o.passed)


def _check_outcomes_by_partition() -> Callable[[str, str], list[Any]]:
    """Check outcomes from the Dagster instance, when there is one (elt dev / elt replay made it)."""
    home = os.environ.get("DAGSTER_HOME") or (str(DAGSTER_HOME) if DAGSTER_HOME.is_dir() else "")
    if not home:
        return lambda day, dataset: []
    os.environ["DAGSTER_HOME"] = str(Path(home).resolve())
    quiet_dagster(verbose=False)
    import dagster as dg

    from elt_assets.defs.daily.outcomes import latest_check_outcomes

    instance = dg.DagsterInstance.get()
    cache: dict[str, list[Any]] = {}

    def lookup(day: str, dataset: str) -> list[Any]:
        if day not in cache:
            cache[day] = latest_check_outcomes(instance, day)
        return [o for o in cache[day] if o.dataset == dataset]

    return lookup


@click.command()
@click.argument("uri", type=S3Uri())
@click.option("--version-id", help="A specific version (default: the current one).")
def where(uri: tuple[str, str], version_id: str | None) -> int:
    """What became of one bronze object.

    URI is the object's s3://bucket/key: its versions, ingest record, manifest and outputs.
    """
    import boto3

    from elt_assets.lib.state import where as trace
    from lambda_bridge.contracts import ContractRegistry

    bucket, key = uri
    config = settings("silver_bucket", "idempotency_table")
    lines = trace(
        boto3.client("s3"),
        boto3.client("dynamodb"),
        config,
        ContractRegistry.load(config.contracts_dir),
        bucket,
        key,
        version_id,
    )
    console().print("\n".join(lines))
    return 0
