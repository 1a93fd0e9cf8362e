"""The `elt` command line as a user runs it."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import boto3
import pytest

from elt_assets.cli.main import load_env_file, main
from elt_assets.cli.samples import generate
from lambda_bridge.keys import manifest_key, part_id
from lambda_bridge.parse import parse_object


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_gen_events_writes_what_it_says(tmp_path, registry):
    target = tmp_path / "shipments.jsonl"
    code, out, _ = run("gen-events", "--dataset", "shipments", "--count", "50", "--format", "jsonl",
                       "--bad-ratio", "0.1", "--out", str(target))  # fmt: skip
    assert code == 0 and "50 shipments records" in out and "5 bad" in out
    result = parse_object(target.read_bytes(), registry["shipments"], "jsonl")
    assert (result.lines_in, result.rows_quarantined) == (50, 5)


def test_gen_events_csv_and_gzip(tmp_path, registry):
    target = tmp_path / "t.csv.gz"
    assert (
        run(
            "gen-events",
            "--dataset",
            "transactions",
            "--format",
            "csv",
            "--count",
            "20",
            "--out",
            str(target),
        )[0]
        == 0
    )
    assert target.read_bytes()[:2] == b"\x1f\x8b"
    assert parse_object(target.read_bytes(), registry["transactions"], "csv").rows_out == 20


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gen-events", "--dataset", "nope", "--out", "x.jsonl"], "unknown dataset 'nope'"),
        (
            ["gen-events", "--dataset", "shipments", "--format", "csv", "--out", "x.csv"],
            "not sent as csv",
        ),
        (["where", "bronze/shipments/a.jsonl"], "expected s3://bucket/key"),
        (["--env-file", "/nonexistent/local.env", "where", "s3://b/k"], "does not exist"),
    ],
)
def test_user_errors_are_one_sentence_on_stderr(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(*argv)
    assert code == 1
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_where_without_settings_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in ("ELT_SILVER_BUCKET", "ELT_IDEMPOTENCY_TABLE", "ELT_BRONZE_BUCKET"):
        monkeypatch.delenv(key, raising=False)
    code, _, err = run("where", "s3://b/bronze/shipments/a.jsonl")
    assert code == 1 and "ELT_SILVER_BUCKET" in err


@pytest.mark.e2e
def test_local_up_serves_any_process_and_stops_cleanly(tmp_path):
    env_file = tmp_path / "local.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "elt_assets.cli.main", "local", "up", "--env-file", str(env_file)],
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
        env = load_env_file(env_file)
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
            [sys.executable, "-m", "elt_assets.cli.main", "--env-file", str(env_file), "where",
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


@pytest.mark.e2e
def test_demo_accounts_for_every_line(capsys):
    from elt_assets.cli.demo import run_demo

    assert run_demo() == 0
    out = capsys.readouterr().out
    assert "every one accounted for" in out
    assert "Conservation holds for every object." in out
    assert "1 duplicate delivery skipped" in out
    assert "DLQ 0" in out


def test_the_env_file_format(tmp_path):
    path = Path(tmp_path) / "x.env"
    path.write_text("# comment\nA=1\nB = two=2\n\n")
    assert load_env_file(path) == {"A": "1", "B": "two=2"}


@pytest.fixture
def stack_env(stack, monkeypatch, tmp_path):
    for key, value in stack.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.chdir(tmp_path)
    return stack


@pytest.mark.e2e
def test_replay_status_and_redrive_verbs(stack_env):
    stack = stack_env
    s3 = stack.client("s3")
    for day, count in (("2026-01-05", 20), ("2026-01-06", 15)):
        s3.put_object(Bucket=stack.settings.bronze_bucket, Key=f"bronze/shipments/dt={day}/a.jsonl",
                      Body=generate("shipments", count=count, seed=count).data)  # fmt: skip
    code, out, err = run(
        "replay", "--dataset", "shipments", "--start", "2026-01-05", "--end", "2026-01-06"
    )
    assert code == 0, err
    assert "shipments dt=2026-01-05: 1 objects, 20 rows, 0 quarantined" in out
    assert "shipments dt=2026-01-06: 1 objects, 15 rows" in out

    code, out, _ = run("status")
    assert code == 0
    assert "DLQ           0 visible" in out
    lines = [line for line in out.splitlines() if line.startswith("shipments")]
    assert lines[0].split()[:4] == ["shipments", "2026-01-06", "1", "15"]
    assert "passed 4/4" in lines[0] and "passed 4/4" in lines[1]

    sqs = stack.client("sqs")
    for i in range(4):
        sqs.send_message(QueueUrl=stack.settings.dlq_url, MessageBody=json.dumps({"n": i}))
    assert run("redrive", "--dry-run")[1].startswith("would move 4 messages")
    code, out, _ = run("redrive", "--max", "3")
    assert code == 0 and out.startswith("moved 3 messages")
    assert "DLQ           1 visible  (run `elt redrive`)" in run("status")[1]


def test_replay_refuses_bad_arguments(stack_env):
    assert (
        "unknown dataset 'nope'" in run("replay", "--dataset", "nope", "--start", "2026-01-05")[2]
    )
    assert "--end 2026-01-01 is before --start 2026-01-05" in run(
        "replay", "--dataset", "shipments", "--start", "2026-01-05", "--end", "2026-01-01")[2]  # fmt: skip
    assert "must be a date" in run("replay", "--dataset", "shipments", "--start", "Jan 5")[2]


@pytest.mark.e2e
def test_elt_dev_serves_the_ui_and_ctrl_c_stops_everything(tmp_path):
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ELT_", "DAGSTER_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "elt_assets.cli.main", "dev", "--dagster-port", str(port)],
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
        assert (tmp_path / ".elt" / "local.env").is_file()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    assert "stopped" in out
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5)
    # pgrep exits 1 when nothing matches: no webserver, daemon or code server is left behind.
    leftovers = subprocess.run(
        ["pgrep", "-f", "--", f"port {port}"], capture_output=True, text=True
    )
    assert leftovers.returncode == 1, leftovers.stdout
    assert not (tmp_path / ".elt" / "local.env").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_scaffold_writes_a_contract_sample_and_test_that_pass(tmp_path, monkeypatch, fmt):
    from lambda_bridge.contracts import ContractRegistry, default_contracts_dir

    contracts = tmp_path / "contracts"
    contracts.mkdir()
    for existing in default_contracts_dir().glob("*.yaml"):
        (contracts / existing.name).write_bytes(existing.read_bytes())
    monkeypatch.chdir(tmp_path)
    argv = ["scaffold", "orders", "--format", fmt, "--contracts-dir", "contracts"]
    assert main([*argv, "--tests-dir", "tests"]) == 0
    registry = ContractRegistry.load(contracts)
    assert "orders" in registry and registry["orders"].formats == (fmt,)
    assert registry.for_key("bronze/orders/dt=2026-01-05/a.jsonl").name == "orders"
    # The sample really goes through the pipeline's parser: three rows, one quarantined line.
    result = parse_object(
        (tmp_path / "samples" / f"orders.{fmt}").read_bytes(), registry["orders"], fmt
    )
    assert (result.rows_out, [b.code.value for b in result.bad]) == (3, ["type_mismatch"])
    # The generated test passes, from another working directory too.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "tests")],
        cwd="/",
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # A second scaffold of the same dataset refuses, in one sentence, and changes nothing.
    before = (contracts / "orders.yaml").read_bytes()
    err = io.StringIO()
    with redirect_stderr(err):
        assert main([*argv, "--tests-dir", "tests"]) == 1
    assert "already exists" in err.getvalue() and err.getvalue().count("\n") == 1
    assert (contracts / "orders.yaml").read_bytes() == before


def test_scaffold_refuses_bad_names_and_overlapping_prefixes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "all.yaml").write_text(
        "name: all\nbronze_prefix: bronze/\ncolumns: [{name: id, type: string}]\n"
    )
    for name, message in (("Bad-Name", "must match"), ("orders", "overlaps")):
        err = io.StringIO()
        with redirect_stderr(err):
            assert main(["scaffold", name, "--contracts-dir", "contracts"]) == 1
        assert message in err.getvalue()
    assert sorted(p.name for p in contracts.iterdir()) == ["all.yaml"]
    assert not (tmp_path / "samples").exists()
