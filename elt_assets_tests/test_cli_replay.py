"""`elt replay` end to end: in this process, or as a Dagster backfill when a daemon runs."""

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._daemon.types import DaemonHeartbeat

from elt_assets.cli.backfill import backfill_daemon_running
from elt_assets.cli.samples import generate
from elt_assets.defs.datasets.assets import silver_key
from elt_assets.lib.state import partition_manifests, read_silver_files
from elt_assets_tests.test_cli import point_at, process_state_kept, rows, run

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(autouse=True)
def _process_state():
    with process_state_kept():
        yield


@pytest.fixture
def stack_env(stack, monkeypatch, tmp_path):
    return point_at(stack, monkeypatch, tmp_path)


def put(stack, day: str, name: str, data: bytes) -> None:
    key = f"bronze/shipments/dt={day}/{name}"
    stack.client("s3").put_object(Bucket=stack.settings.bronze_bucket, Key=key, Body=data)


def silver_rows(stack, day: str) -> int:
    s3, bucket = stack.client("s3"), stack.settings.silver_bucket
    manifests = partition_manifests(s3, bucket, "shipments", day)
    return sum(table.num_rows for _, table in read_silver_files(s3, bucket, manifests))


def heartbeat(age_seconds: float) -> None:
    """A backfill daemon's heartbeat in the instance, as `dagster dev` writes them."""
    with dg.DagsterInstance.get() as instance:
        beat = DaemonHeartbeat(time.time() - age_seconds, "BACKFILL", "test", None)
        instance.add_daemon_heartbeat(beat)


def test_a_day_over_its_quarantine_limit_exits_1_naming_the_check(stack_env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    code, _, err = run("gen-events", "--dataset", "shipments", "--count", "40", "--bad-ratio",
                       "0.3", "--day", "2026-01-05", "--out", str(bad))  # fmt: skip
    assert code == 0, err
    put(stack_env, "2026-01-05", "bad.jsonl", bad.read_bytes())
    # A daemon that stopped ten minutes ago runs no backfill: the replay runs here.
    heartbeat(age_seconds=600)

    code, out, err = run("replay", "--dataset", "shipments", "--start", "2026-01-05")
    assert code == 1
    assert err == (
        "elt: the replay itself completed, but a blocking check failed: "
        "dt=2026-01-05 quarantine_rate 0.30 > 0.05\n"
    )
    (row,) = rows(out, "2026-01-05")
    assert row[:5] == ["2026-01-05", "1", "40", "28", "12"]
    assert row[-2:] == ["FAILED:", "quarantine_rate"]
    with dg.DagsterInstance.get() as instance:
        assert instance.get_backfills() == []

    code, out, err = run("replay", "--dataset", "shipments", "--start", "2026-01-05", "--verbose")
    assert code == 1
    log, last = err.splitlines()[:-1], err.splitlines()[-1]
    assert last.endswith("dt=2026-01-05 quarantine_rate 0.30 > 0.05")
    events = [line for line in log if " - dagster - " in line]
    assert any("RUN_START" in line for line in events)
    assert any("ASSET_CHECK_EVALUATION" in line for line in events)

    code, out, err = run("replay", "--dataset", "shipments", "--start", "2026-01-05", "--no-checks")
    assert (code, err) == (0, "")
    assert rows(out, "2026-01-05")[0][-2:] == ["not", "run"]


def test_with_a_daemon_heartbeat_replay_submits_a_backfill(stack_env, monkeypatch):
    """What the daemon is given is what the UI's partition-range launch gives it."""
    heartbeat(age_seconds=1)
    monkeypatch.setenv("ELT_DAGSTER_URL", "http://127.0.0.1:3999/")
    argv = ["replay", "--dataset", "shipments", "--start", "2026-01-05", "--end", "2026-01-07"]
    code, out, err = run(*argv, "--no-wait")
    assert code == 0, err
    (backfill_id,) = re.findall(r"backfill (\w+): http://127\.0\.0\.1:3999/runs/b/\1\n", out)
    with dg.DagsterInstance.get() as instance:
        (backfill,) = instance.get_backfills()
        assert backfill.backfill_id == backfill_id
        assert backfill.status.value == "REQUESTED"
        assert backfill.is_asset_backfill and backfill.asset_selection == [silver_key("shipments")]
        target = backfill.asset_backfill_data.target_subset
        assert target.asset_keys == {silver_key("shipments")}
        partitions = target.get_partitions_subset(silver_key("shipments")).get_partition_keys()
        assert sorted(partitions) == ["2026-01-05", "2026-01-06", "2026-01-07"]
        assert backfill.tags["elt/trigger"] == "elt replay"
        assert instance.get_runs() == [], "the daemon launches the runs, not `elt replay`"


def run_in_terminal(argv: list[str], cwd: Path, timeout: float = 180) -> tuple[int, str, str]:
    """`elt ARGV` with its stdout on a terminal (a pty), as a user sees it; stderr apart."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "elt_assets.cli", *argv],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
        cwd=cwd,
    )
    os.close(secondary)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([primary], [], [], 1)[0]:
                continue
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            proc.kill()
            pytest.fail(f"elt {' '.join(argv)} did not finish in {timeout:.0f}s")
    finally:
        os.close(primary)
    err = proc.stderr.read().decode()
    return proc.wait(timeout=30), b"".join(chunks).decode(errors="replace"), err


@pytest.fixture
def daemon(stack_env, tmp_path):
    """A real `dagster-daemon run` on the test's instance and the repository's workspace.yaml.

    The backfill daemon ticks every 30 s (a constant in dagster._daemon.controller); at that
    pace a two-day backfill takes a minute and a half, so this daemon ticks every second.
    Everything else is the daemon `dagster dev` runs.
    """
    # The landings sensor would start check runs of its own for what the replay writes.
    env = {k: v for k, v in os.environ.items() if k != "ELT_LANDINGS_QUEUE_URL"}
    code = (
        "import dagster._daemon.controller as c; c.DEFAULT_DAEMON_INTERVAL_SECONDS = 1; "
        "from dagster._daemon.cli import main; main()"
    )
    log = (tmp_path / "daemon.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "run", "-w", str(REPO / "workspace.yaml")],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        with dg.DagsterInstance.get() as instance:
            while not backfill_daemon_running(instance):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail((tmp_path / "daemon.log").read_text()[-3000:])
                time.sleep(0.5)
        yield proc
    finally:
        # Its code server and run workers are in its session: stop them all.
        for sig, wait in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        log.close()


def test_with_a_daemon_running_replay_is_a_backfill_it_follows(stack_env, daemon, tmp_path):
    put(stack_env, "2026-01-05", "a.jsonl", generate("shipments", count=20, seed=5).data)
    put(stack_env, "2026-01-06", "b.jsonl", generate("shipments", count=30, bad_ratio=0.3).data)

    argv = ["replay", "--dataset", "shipments", "--start", "2026-01-05", "--end", "2026-01-06"]
    code, screen, err = run_in_terminal(argv, tmp_path)
    text = ANSI.sub("", screen)
    assert code == 1, text + err
    assert err.endswith(
        "the replay itself completed, but a blocking check failed: "
        "dt=2026-01-06 quarantine_rate 0.30 > 0.05\n"
    )
    (backfill_id,) = re.findall(r"backfill (\w+): http://127\.0\.0\.1:3000/runs/b/\1", text)
    # On a terminal the bar is redrawn as the runs finish, not printed once at the end.
    assert "0/2" in text and "2/2" in text and screen.count("\x1b[") > 10
    assert rows(text, "2026-01-05")[0][:5] == ["2026-01-05", "1", "20", "20", "0"]
    assert rows(text, "2026-01-05")[0][-2:] == ["passed", "5/5"]
    assert rows(text, "2026-01-06")[0][:5] == ["2026-01-06", "1", "30", "21", "9"]
    assert rows(text, "2026-01-06")[0][-2:] == ["FAILED:", "quarantine_rate"]

    with dg.DagsterInstance.get() as instance:
        (backfill,) = instance.get_backfills()
        assert backfill.backfill_id == backfill_id
        assert backfill.status.value in ("COMPLETED_SUCCESS", "COMPLETED_FAILED")
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert sorted(r.tags["dagster/partition"] for r in runs) == ["2026-01-05", "2026-01-06"]
    assert (silver_rows(stack_env, "2026-01-05"), silver_rows(stack_env, "2026-01-06")) == (20, 21)


def silver_files(stack, day: str) -> dict[str, list[dict]]:
    """Every silver and quarantine file of a day, as rows, without the processing time."""
    import io
    import json

    import pyarrow.parquet as pq

    s3, bucket = stack.client("s3"), stack.settings.silver_bucket
    files = {}
    for prefix in (f"silver/shipments/dt={day}/", f"quarantine/shipments/dt={day}/"):
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            if item["Key"].endswith(".parquet"):
                rows = pq.read_table(io.BytesIO(body)).drop_columns(["_ingested_at"]).to_pylist()
            else:
                rows = [json.loads(line) for line in body.splitlines()]
            files[item["Key"]] = rows
    return files


def test_a_replay_via_the_queue_equals_one_in_process_file_for_file(stack, monkeypatch, tmp_path):
    import dataclasses

    from elt_assets.cli.local.runner import LambdaRunner

    day = "2026-01-07"
    # Small chunks, so the large object is split by ingest, by the queued replay and in process.
    stack.settings = dataclasses.replace(stack.settings, chunk_bytes=4000)
    point_at(stack, monkeypatch, tmp_path)
    put(stack, day, "large.jsonl", generate("shipments", count=120, bad_ratio=0.02, seed=11).data)
    put(stack, day, "small.jsonl", generate("shipments", count=15, seed=12).data)
    put(stack, day, "bad.jsonl", generate("shipments", count=30, bad_ratio=0.1, seed=13).data)
    runner = LambdaRunner(stack, visibility_timeout=1, ingest_retry_delay=1).start()
    try:
        runner.drain(timeout=120)
        code, out, err = run("replay", "--dataset", "shipments", "--start", day, "--via-queue")
        assert code == 0, err
    finally:
        runner.stop()
    assert re.search(r"sent (\d+) messages for 1 days", out)
    sent = int(re.search(r"sent (\d+) messages", out).group(1))
    manifests = partition_manifests(
        stack.client("s3"), stack.settings.silver_bucket, "shipments", day
    )
    assert sent == len(manifests) > 3  # one per chunk: the large object was split
    assert {m["writer"] for m in manifests} == {"transform"}  # the Lambdas did the work
    (queued_row,) = rows(out, day)
    via_queue = silver_files(stack, day)

    code, out, err = run("replay", "--dataset", "shipments", "--start", day)
    assert code == 0, err
    (in_process_row,) = rows(out, day)
    assert silver_files(stack, day) == via_queue
    # objects, lines in, rows out, quarantined and the checks: the same summary either way.
    assert queued_row[1:5] + queued_row[6:] == in_process_row[1:5] + in_process_row[6:]
    assert queued_row[1] == "3" and queued_row[6:] == ["passed", "5/5"]

    code, out, _ = run(
        "where", f"s3://{stack.settings.bronze_bucket}/bronze/shipments/dt={day}/large.jsonl"
    )
    assert code == 0
    chunks = [line for line in out.splitlines() if line.startswith("chunk ")]
    large = [m for m in manifests if m["source"]["key"].endswith("large.jsonl")]
    assert len(chunks) == len(large) > 1 and "lines in 120" in out and "(done)" in out
