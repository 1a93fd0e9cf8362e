"""Replay as a real Dagster partition backfill, when a daemon on the instance will run it.

`elt dev` runs `dagster dev`, whose daemon heartbeats into the instance. When the backfill
daemon's heartbeat is fresh, `elt replay` adds the same `PartitionBackfill` the UI's
"Materialize -> partition range" (GraphQL `launchPartitionBackfill`) adds, so the replay is
listed under Backfills, runs in the daemon's run launcher, and its runs are the UI's runs.
"""

import os
import time
import warnings
from typing import Any

from elt_assets.cli.common import progress
from elt_assets.cli.outcomes import DayOutcome, read_outcome
from lambda_bridge.exceptions import EltError

DEFAULT_UI_URL = "http://127.0.0.1:3000"
POLL_SECONDS = 1.0


def backfill_daemon_running(instance: Any) -> bool:
    """Whether a backfill daemon heartbeats into `instance` now.

    Dagster's own health check tolerates 30 minutes of silence (it asks "did the daemon
    crash?"); the question here is "will a backfill be picked up now?", so a heartbeat may be
    at most one more heartbeat interval late.
    """
    from dagster._daemon.controller import DEFAULT_HEARTBEAT_INTERVAL_SECONDS, get_daemon_statuses
    from dagster._daemon.daemon import BackfillDaemon

    daemon = BackfillDaemon.daemon_type()
    if daemon not in instance.get_required_daemon_types():
        return False  # an ephemeral instance: nothing could run a backfill
    statuses = get_daemon_statuses(
        instance,
        [daemon],
        heartbeat_interval_seconds=DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
        heartbeat_tolerance_seconds=DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
        ignore_errors=True,
    )
    return bool(statuses[daemon].healthy)


def submit_backfill(
    instance: Any, asset_graph: Any, asset_key: Any, days: list[str], tags: dict[str, str]
) -> str:
    """Add a backfill of `asset_key` (its checks included) over `days`; return its id.

    The object `launchPartitionBackfill` builds for a pure asset backfill
    (`PartitionBackfill.from_asset_partitions`), REQUESTED, for the daemon to take up.
    """
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    with warnings.catch_warnings():
        # Dagster 1.13 calls its own deprecated AssetSelection.sources() in here.
        warnings.filterwarnings("ignore", message=".*AssetSelection.sources.*")
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=make_new_backfill_id(),
            asset_graph=asset_graph,
            partition_names=days,
            asset_selection=[asset_key],
            backfill_timestamp=time.time(),
            tags=tags,
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=f"elt replay {asset_key.to_user_string()} {span}",
            description="Submitted by `elt replay`: the transform over each day's bronze objects.",
            run_config=None,
        )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def backfill_url(backfill_id: str) -> str:
    """The backfill's page in the UI `elt dev` serves (it writes ELT_DAGSTER_URL)."""
    base = os.environ.get("ELT_DAGSTER_URL") or DEFAULT_UI_URL
    return f"{base.rstrip('/')}/runs/b/{backfill_id}"


def wait_for_backfill(
    instance: Any, backfill_id: str, asset_key: Any, days: list[str], dataset: str, out: Any
) -> list[DayOutcome]:
    """Follow the backfill until it ends, a line per day as its run finishes; the outcomes.

    Raises:
        EltError: the backfill failed or was canceled in Dagster, or the daemon stopped
            heartbeating (the backfill then waits for the next daemon).
    """
    from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, BulkActionStatus

    finished: dict[str, DayOutcome] = {}
    with progress(out) as bar:
        task = bar.add_task(f"backfill {backfill_id}", total=len(days))
        while True:
            backfill = instance.get_backfill(backfill_id)
            for day, run_id in _finished_runs(instance, backfill_id).items():
                if day not in finished:
                    finished[day] = read_outcome(instance, run_id, asset_key, day)
                    bar.console.print(finished[day].line(dataset))
            bar.update(task, completed=len(finished))
            if backfill.status in BULK_ACTION_TERMINAL_STATUSES:
                break
            if not backfill_daemon_running(instance):
                msg = (
                    f"the Dagster daemon stopped heartbeating; backfill {backfill_id} waits for "
                    f"the next one ({backfill_url(backfill_id)})"
                )
                raise EltError(msg)
            time.sleep(POLL_SECONDS)
    if backfill.status in (BulkActionStatus.FAILED, BulkActionStatus.CANCELED):
        reason = backfill.error.message.strip().splitlines()[0] if backfill.error else ""
        msg = f"backfill {backfill_id} {backfill.status.value.lower()} in Dagster" + (
            f": {reason}" if reason else f" ({backfill_url(backfill_id)})"
        )
        raise EltError(msg)
    # A run retried after this loop saw it: the newest finished run of each day counts.
    runs = _finished_runs(instance, backfill_id)
    return [
        read_outcome(instance, runs[day], asset_key, day)
        if day in runs
        else DayOutcome(day, error="the backfill launched no run for this day")
        for day in days
    ]


def _finished_runs(instance: Any, backfill_id: str) -> dict[str, str]:
    """Day -> id of the newest finished run of the backfill for that partition."""
    import dagster as dg
    from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG

    found: dict[str, str] = {}
    for run in instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id})):
        day = run.tags.get(PARTITION_NAME_TAG)
        if day and run.is_finished and day not in found:  # newest first
            found[day] = run.run_id
    return found
