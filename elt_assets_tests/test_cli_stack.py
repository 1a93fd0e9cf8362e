"""`elt local up`, `elt dev` and `elt demo`: the commands that run the embedded stack."""

import json
import os
import signal
import subprocess
import sys
import time

import boto3
import pytest
from dotenv import dotenv_values

from elt_assets.cli.samples import generate
from lambda_bridge.keys import manifest_key, part_id

pytestmark = pytest.mark.e2e


def test_local_up_serves_any_process_and_stops_cleanly(tmp_path):
    env_file = tmp_path / "local.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "elt_assets.cli", "local", "up", "--env-file", str(env_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.strip() == "ready":
                break
        else:
            pytest.fail(f"no 'ready' from elt local up: {lines}")
        env = dotenv_values(env_file)
        assert {"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ELT_BRONZE_BUCKET",
                "ELT_SILVER_BUCKET", "ELT_QUEUE_URL", "ELT_DLQ_URL", "ELT_IDEMPOTENCY_TABLE"} <= set(env)  # fmt: skip
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")

        # Another process, knowing only the env file, drops a file and sees silver appear.
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )
        s3 = session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
        key = "bronze/shipments/dt=2026-01-05/from-another-process.jsonl"
        s3.put_object(
            Bucket=env["ELT_BRONZE_BUCKET"], Key=key, Body=generate("shipments", count=30).data
        )
        wanted = manifest_key("shipments", "2026-01-05", part_id(env["ELT_BRONZE_BUCKET"], key))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                manifest = json.loads(
                    s3.get_object(Bucket=env["ELT_SILVER_BUCKET"], Key=wanted)["Body"].read()
                )
                break
            except s3.exceptions.NoSuchKey:
                time.sleep(0.2)
        else:
            pytest.fail("no manifest within 20 s")
        assert manifest["rows_out"] == 30

        # `elt where` from yet another process, pointed at the stack by the env file.
        where = subprocess.run(
            [sys.executable, "-m", "elt_assets.cli", "--env-file", str(env_file), "where",
             f"s3://{env['ELT_BRONZE_BUCKET']}/{key}"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ELT_"))},
        )  # fmt: skip
        assert where.returncode == 0, where.stderr
        assert "dataset     shipments" in where.stdout
        assert "idempotency record COMPLETED" in where.stdout
        assert "lines in 30 = rows out 30 + quarantined 0" in where.stdout
        assert "silver/shipments/dt=2026-01-05/part-" in where.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert not env_file.exists()


def test_demo_accounts_for_every_line(capsys):
    from elt_assets.cli.demo import run_demo

    assert run_demo() == 0
    out = capsys.readouterr().out
    assert "every one accounted for" in out
    assert "Conservation holds for every object." in out
    assert "1 duplicate delivery skipped" in out
    assert "DLQ 0" in out


def test_elt_dev_serves_the_ui_and_ctrl_c_stops_everything(tmp_path):
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ELT_", "DAGSTER_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "elt_assets.cli", "dev", "--dagster-port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 150
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Dagster UI did not come up on port {port}")
                time.sleep(1)
        # `elt replay` in another shell links into this UI.
        assert dotenv_values(tmp_path / ".elt" / "local.env")["ELT_DAGSTER_URL"] == (
            f"http://127.0.0.1:{port}"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        out, _ = proc.communicate(timeout=120)
        took = time.monotonic() - interrupted
    assert "stopped" in out
    # The bound for Ctrl-C, not a speed figure: a user waits for this.
    assert took < 10, f"elt dev took {took:.1f} s to stop"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5)
    # pgrep exits 1 when nothing matches: no webserver, daemon or code server is left behind.
    leftovers = subprocess.run(
        ["pgrep", "-f", "--", f"port {port}"], capture_output=True, text=True
    )
    assert leftovers.returncode == 1, leftovers.stdout
    assert not (tmp_path / ".elt" / "local.env").exists()


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if sys.argv[1:] == ["leader"]:
    subprocess.Popen([sys.executable, __file__])  # the child: same group, same deafness
print("ready", flush=True)
time.sleep(600)
"""


def test_a_dagster_that_ignores_ctrl_c_and_sigterm_is_still_stopped_with_its_children(tmp_path):
    from elt_assets.cli.stack_commands import STOP_STEPS, _stop_process_group

    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN)
    leader = subprocess.Popen(
        [sys.executable, str(script), "leader"],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    # Both the leader and its child say ready once their signal handlers are in place.
    assert leader.stdout.readline().strip() == "ready"
    assert leader.stdout.readline().strip() == "ready"
    started = time.monotonic()
    _stop_process_group(
        leader, steps=((signal.SIGINT, 0.5), (signal.SIGTERM, 0.5), (signal.SIGKILL, 2))
    )
    assert time.monotonic() - started < 3
    with pytest.raises(ProcessLookupError):
        os.killpg(leader.pid, 0)  # nothing of the group is left
    assert leader.returncode == -signal.SIGKILL
    # What `elt dev` uses must leave room for the rest of the stack within the 10 s bound.
    assert sum(wait for _, wait in STOP_STEPS) <= 8
