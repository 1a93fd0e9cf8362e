"""`elt replay`: silver partitions of a dataset, and their checks, over a date range.

With a Dagster daemon on the instance (`elt dev`) the replay is a partition backfill the UI
lists under Backfills; without one it runs here, one run per day, each with that day's checks.
Either way every day's check results are recorded against that day, and the report is the same.
"""

import datetime as dt
from typing import Any

import click

from elt_assets.cli.common import (
    DATASETS,
    IsoDate,
    UsageError,
    console,
    dagster_home,
    progress,
    quiet_dagster,
    settings,
)
from elt_assets.cli.outcomes import DayOutcome, read_outcome, report

TAGS = {"elt/trigger": "elt replay"}
# Dagster's default console logger prints every event of a run; CRITICAL leaves only what
# would stop the process, and the run's events stay in the instance for the UI.
_QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@click.command()
@click.option(
    "--dataset",
    required=True,
    type=DATASETS,
    help="A dataset of the contract registry ($ELT_CONTRACTS_DIR, or the packaged contracts).",
)
@click.option("--start", required=True, type=IsoDate(), help="First day.")
@click.option("--end", type=IsoDate(), help="Last day, inclusive (default: --start).")
@click.option(
    "--no-checks",
    is_flag=True,
    help="Materialize silver without its checks (in this process: a backfill runs them).",
)
@click.option(
    "--no-wait", is_flag=True, help="With a Dagster daemon: submit the backfill and return."
)
@click.option(
    "--via-queue",
    is_flag=True,
    help="Send the days' objects through the events queue: the transform Lambdas replay them "
    "in parallel, this waits for their manifests, then runs the days' checks.",
)
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    default=900,
    show_default=True,
    help="With --via-queue: seconds to wait for the manifests.",
)
@click.option("--verbose", is_flag=True, help="Print Dagster's event log.")
def replay(
    dataset: str,
    start: dt.date,
    end: dt.date | None,
    no_checks: bool,
    no_wait: bool,
    via_queue: bool,
    timeout: int,
    verbose: bool,
) -> int:
    """Replay a dataset over a date range (a backfill of silver).

    Every day is one partition of silver/DATASET, materialized with its checks: by the Dagster
    daemon as a backfill when `elt dev` (or any daemon on the instance) runs, else here.
    """
    end = end or start
    if end < start:
        msg = f"--end {end} is before --start {start}"
        raise UsageError(msg)
    quiet_dagster(verbose)
    import dagster as dg

    from elt_assets.cli.backfill import backfill_daemon_running
    from elt_assets.definitions import defs
    from elt_assets.defs.datasets.assets import silver_key

    repo = defs().get_repository_def()
    key = silver_key(dataset)
    days = _partition_keys(repo.asset_graph.get(key).partitions_def, start, end, dataset)
    settings("bronze_bucket", "silver_bucket")
    home = dagster_home()
    out, err = console(), console(stderr=True)
    with dg.DagsterInstance.get() as instance:
        if via_queue:
            outcomes = _via_queue(instance, repo, key, days, dataset, not no_checks, timeout, out)
            return report(out, err, dataset, outcomes)
        daemon = backfill_daemon_running(instance)
        if daemon and not no_checks:
            outcomes = _backfill(instance, repo.asset_graph, key, days, dataset, home, no_wait, out)
            if outcomes is None:
                return 0
        else:
            if daemon:
                out.print("--no-checks: replaying in this process (a backfill runs the checks)")
            outcomes = _in_process(instance, repo, key, days, dataset, not no_checks, verbose, out)
    return report(out, err, dataset, outcomes)


def _partition_keys(partitions: Any, start: dt.date, end: dt.date, dataset: str) -> list[str]:
    days = [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    outside = [day for day in days if not partitions.has_partition_key(day)]
    if outside:
        msg = (
            f"dt={outside[0]} is not a partition of silver/{dataset} (daily, "
            f"{partitions.get_first_partition_key()} to {partitions.get_last_partition_key()})"
        )
        raise UsageError(msg)
    return days


def _in_process(
    instance: Any,
    repo: Any,
    key: Any,
    days: list[str],
    dataset: str,
    with_checks: bool,
    verbose: bool,
    out: Any,
) -> list[DayOutcome]:
    """One run per day in this process, each recorded in the instance like any other run."""
    checks = set(repo.asset_graph.get_check_keys_for_assets([key])) if with_checks else set()
    job = repo.get_implicit_global_asset_job_def().get_subset(
        asset_selection={key}, asset_check_selection=checks
    )
    outcomes = []
    with progress(out) as bar:
        task = bar.add_task(f"replaying silver/{dataset}", total=len(days))
        for day in days:
            result = job.execute_in_process(
                partition_key=day,
                instance=instance,
                raise_on_error=False,
                run_config={} if verbose else _QUIET_RUN_CONFIG,
                tags=TAGS,
            )
            outcomes.append(read_outcome(instance, result.run_id, key, day))
            bar.console.print(outcomes[-1].line(dataset))
            bar.advance(task)
    return outcomes


def _via_queue(
    instance: Any,
    repo: Any,
    key: Any,
    days: list[str],
    dataset: str,
    with_checks: bool,
    timeout: int,
    out: Any,
) -> list[DayOutcome]:
    """Pointer messages for every object (and chunk) of the days on the events queue; the
    Lambdas do the work, this follows their manifests, then checks each day here."""
    import boto3

    from elt_assets.lib.replay import finish_partition, send_partition, wait_for_partitions
    from lambda_bridge.contracts import ContractRegistry
    from lambda_bridge.exceptions import EltError

    config = settings("bronze_bucket", "silver_bucket", "queue_url")
    contract = ContractRegistry.load(config.contracts_dir)[dataset]
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    sent = [
        send_partition(s3, sqs, config.queue_url, contract, config.bronze_bucket, day)
        for day in days
    ]
    total = sum(len(r.expected) for r in sent)
    out.print(f"sent {total} messages for {len(days)} days of {dataset} to the events queue")
    with progress(out) as bar:
        task = bar.add_task(f"manifests of silver/{dataset}", total=total)
        waiting = wait_for_partitions(
            s3, config.silver_bucket, config.bronze_bucket, dataset, sent, timeout,
            on_progress=lambda done, _: bar.update(task, completed=done),
        )  # fmt: skip
    if waiting:
        sample = ", ".join(k if c is None else f"{k} chunk {c}" for k, c in waiting[:3])
        msg = (
            f"{len(waiting)} of {total} messages got no manifest within {timeout} s (e.g. {sample}): "
            "see the DLQ (`elt redrive --dry-run`) or the transform's logs"
        )
        raise EltError(msg)  # exit 1: the replay did not complete
    checks = set(repo.asset_graph.get_check_keys_for_assets([key])) if with_checks else set()
    job = repo.get_job("silver_checks") if checks else None
    outcomes = []
    for replay in sent:
        summary = finish_partition(s3, contract, config.bronze_bucket, config.silver_bucket, replay)
        outcome = DayOutcome(replay.day, succeeded=True)
        if job is not None:
            result = job.get_subset(asset_check_selection=checks).execute_in_process(
                instance=instance, raise_on_error=False, run_config=_QUIET_RUN_CONFIG,
                tags={**TAGS, "dagster/partition": replay.day},
            )  # fmt: skip
            outcome = read_outcome(instance, result.run_id, key, replay.day)
        outcome.metadata = summary.metadata()
        out.print(outcome.line(dataset))
        outcomes.append(outcome)
    return outcomes


def _backfill(
    instance: Any,
    asset_graph: Any,
    key: Any,
    days: list[str],
    dataset: str,
    home: Any,
    no_wait: bool,
    out: Any,
) -> list[DayOutcome] | None:
    """Submit the backfill to the daemon; unless `no_wait`, follow it and return the outcomes."""
    from elt_assets.cli.backfill import backfill_url, submit_backfill, wait_for_backfill

    span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    out.print(f"a Dagster daemon runs on {home}: submitting a backfill of silver/{dataset}, {span}")
    backfill_id = submit_backfill(instance, asset_graph, key, days, TAGS)
    url = backfill_url(backfill_id)
    out.print(f"backfill {backfill_id}: {url}")
    if no_wait:
        out.print("not waiting (--no-wait): follow it in the UI, or with `elt status`")
        return None
    try:
        return wait_for_backfill(instance, backfill_id, key, days, dataset, out)
    except KeyboardInterrupt:
        console(stderr=True).print(f"elt: stopped waiting; backfill {backfill_id} goes on: {url}")
        raise
