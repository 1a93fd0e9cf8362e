"""The `elt` command line as a user runs it."""

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from elt_assets.cli.local.stack import Stack
from elt_assets.cli.main import main
from elt_assets.cli.samples import generate
from lambda_bridge.parse import parse_object


def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`elt ARGV` through `main` (its exit codes and error lines), output captured by click.

    The environment is restored afterwards, as if each `elt` were its own process.
    """
    environ = dict(os.environ)
    try:
        with CliRunner().isolation(env=env) as (out, err, _):
            code = main(list(argv))
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        os.environ.clear()
        os.environ.update(environ)
    return code, out.getvalue().decode(), err.getvalue().decode()


def one_sentence(err: str) -> bool:
    """What a user error looks like: one `elt: ...` line, no traceback."""
    return err.startswith("elt: ") and err.count("\n") == 1 and "Traceback" not in err


@contextmanager
def process_state_kept() -> Iterator[None]:
    """`elt` points the process at stacks (env file, DAGSTER_HOME) and quiets Dagster's logger."""
    environ, level = dict(os.environ), logging.getLogger("dagster").level
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        logging.getLogger("dagster").setLevel(level)


def point_at(stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Stack:
    """The environment `elt` sees: the stack's settings, a fresh Dagster instance, a work dir."""
    for key, value in stack.env().items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    # Dagster's first run on an instance prints its telemetry notice; tests opt out instead.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return stack


@pytest.fixture(autouse=True)
def _process_state():
    with process_state_kept():
        yield


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
        (["gen-events", "--dataset", "shipments", "--bad-ratio", "2", "--out", "x"], "0<=x<=1"),
        (["gen-events", "--dataset", "shipments", "--day", "5/1", "--out", "x"], "must be a date"),
        (["where", "bronze/shipments/a.jsonl"], "expected s3://bucket/key"),
        (["where", "s3://bucket-only"], "expected s3://bucket/key"),
        (["--env-file", "/nonexistent/local.env", "where", "s3://b/k"], "does not exist"),
        (["replay", "--dataset", "nope", "--start", "2026-01-05"], "unknown dataset 'nope'"),
        (["replay", "--dataset", "shipments", "--start", "Jan 5"], "must be a date like"),
        (
            ["replay", "--dataset", "shipments", "--start", "2026-01-05", "--end", "2026-01-01"],
            "--end 2026-01-01 is before --start 2026-01-05",
        ),
        (["replay", "--start", "2026-01-05"], "Missing option '--dataset'"),
        (
            ["replay", "--dataset", "shipments", "--start", "2024-12-31"],
            "dt=2024-12-31 is not a partition of silver/shipments (daily, 2025-01-01 to ",
        ),
        (["redrive", "--max", "-1"], "--max"),
        (["status", "--days", "0"], "--days"),
        (["reply"], "No such command 'reply'"),
    ],
)
def test_usage_errors_exit_2_with_one_sentence(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    assert message in err and one_sentence(err), err


def test_a_replay_usage_error_lists_the_known_datasets_and_needs_no_stack(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith(("ELT_", "AWS_"))]:
        monkeypatch.delenv(key)
    code, _, err = run("replay", "--dataset", "nope", "--start", "2026-01-05")
    assert code == 2
    assert (
        "(known: fx_rates, invoice_lines, merchants, shipments, tracking_events, transactions)"
        in err
    )


def test_help_works_with_no_environment_at_all_and_loads_nothing_heavy(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    probe = (
        "import sys; from elt_assets.cli.main import main; code = main(sys.argv[1:]); "
        "print('heavy:', sorted({'dagster', 'boto3', 'pyarrow'} & set(sys.modules)))"
    )
    top = subprocess.run([sys.executable, "-c", probe, "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert top.returncode == 0, top.stderr
    assert top.stdout.startswith("Usage: elt [OPTIONS] COMMAND [ARGS]...")
    assert "heavy: []" in top.stdout
    replay = subprocess.run([sys.executable, "-m", "elt_assets.cli", "replay", "--help"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    assert (
        "--dataset [fx_rates|invoice_lines|merchants|shipments|tracking_events|transactions]"
        in replay.stdout
    )


def test_where_without_settings_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in ("ELT_SILVER_BUCKET", "ELT_IDEMPOTENCY_TABLE", "ELT_BRONZE_BUCKET"):
        monkeypatch.delenv(key, raising=False)
    code, _, err = run("where", "s3://b/bronze/shipments/a.jsonl")
    assert code == 1 and "ELT_SILVER_BUCKET" in err and one_sentence(err)


def test_aws_problems_are_one_sentence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith(("AWS_", "ELT_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ELT_SILVER_BUCKET", "silver")
    monkeypatch.setenv("ELT_IDEMPOTENCY_TABLE", "table")
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    uri = "s3://bronze/bronze/shipments/a.jsonl"
    code, _, err = run("where", uri)
    assert code == 1 and one_sentence(err) and "no AWS region" in err, err

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    code, _, err = run("where", uri)
    assert code == 1 and one_sentence(err) and "no AWS credentials" in err, err

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, _, err = run("where", uri)
    assert code == 1 and one_sentence(err) and err.startswith("elt: cannot reach AWS: "), err


@pytest.mark.e2e
def test_an_aws_refusal_is_one_sentence(stack_env, monkeypatch):
    monkeypatch.setenv("ELT_QUEUE_URL", stack_env.settings.queue_url + "-gone")
    code, _, err = run("status")
    assert code == 1 and one_sentence(err) and err.startswith("elt: AWS said "), err
    assert "NonExistentQueue" in err


def _contracts_with(tmp_path: Path, name: str) -> Path:
    """A contracts folder holding one dataset, `name` (shipments' contract under that name)."""
    from lambda_bridge.contracts import default_contracts_dir

    folder = tmp_path / f"contracts-{name}"
    folder.mkdir()
    text = (default_contracts_dir() / "shipments.yaml").read_text()
    (folder / f"{name}.yaml").write_text(text.replace("shipments", name))
    return folder


def test_replay_datasets_come_from_the_env_files_contracts(tmp_path, monkeypatch):
    """`--dataset` choices follow ELT_CONTRACTS_DIR as the env file sets it; an explicit
    --env-file wins over the environment, the default .elt/local.env only fills what is unset."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ELT_BRONZE_BUCKET", raising=False)
    monkeypatch.setenv("ELT_CONTRACTS_DIR", str(_contracts_with(tmp_path, "from_shell")))
    (tmp_path / ".elt").mkdir()
    (tmp_path / ".elt" / "local.env").write_text(
        f"ELT_CONTRACTS_DIR={_contracts_with(tmp_path, 'from_default_file')}\n"
    )
    explicit = tmp_path / "other.env"
    explicit.write_text(f"ELT_CONTRACTS_DIR = {_contracts_with(tmp_path, 'from_explicit')}\n")
    # --end before --start: the dataset was accepted, and the command stops before any AWS call.
    backwards = ["--start", "2026-01-05", "--end", "2026-01-01"]

    code, _, err = run("replay", "--dataset", "from_shell", *backwards)
    assert code == 2 and "is before --start" in err, "the shell's setting wins over the default"
    code, _, err = run("replay", "--dataset", "from_default_file", *backwards)
    assert code == 2 and "(known: from_shell)" in err
    code, _, err = run("--env-file", str(explicit), "replay", "--dataset", "from_explicit",
                       *backwards)  # fmt: skip
    assert code == 2 and "is before --start" in err
    monkeypatch.delenv("ELT_CONTRACTS_DIR")
    code, _, err = run("replay", "--dataset", "from_default_file", *backwards)
    assert code == 2 and "is before --start" in err, "the default file fills what is unset"


def test_an_elt_variable_in_the_shell_keeps_the_default_env_file_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELT_BRONZE_BUCKET", "from-the-shell")
    monkeypatch.delenv("ELT_CONTRACTS_DIR", raising=False)
    (tmp_path / ".elt").mkdir()
    (tmp_path / ".elt" / "local.env").write_text(
        f"ELT_CONTRACTS_DIR={_contracts_with(tmp_path, 'elsewhere')}\n"
    )
    code, _, err = run("replay", "--dataset", "elsewhere", "--start", "2026-01-05")
    assert code == 2 and "unknown dataset 'elsewhere'" in err


@pytest.fixture
def stack_env(stack, monkeypatch, tmp_path):
    return point_at(stack, monkeypatch, tmp_path)


def rows(out: str, first: str) -> list[list[str]]:
    """The rows of the printed tables whose first cell is `first`, split into words."""
    return [line.split() for line in out.splitlines() if line.split()[:1] == [first]]


@pytest.mark.e2e
def test_replay_in_process_then_status_and_redrive(stack_env):
    import dagster as dg

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
    (bar,) = [line for line in out.splitlines() if "replaying silver/shipments" in line]
    assert "2/2" in bar
    assert "Replay of silver/shipments" in out
    assert rows(out, "2026-01-05")[0][:5] == ["2026-01-05", "1", "20", "20", "0"]
    assert rows(out, "2026-01-06")[0][-2:] == ["passed", "5/5"]
    assert " - dagster - " not in err, "Dagster's event log only with --verbose"
    # No daemon on the instance: one run per day in this process, and no backfill.
    with dg.DagsterInstance.get() as instance:
        assert instance.get_backfills() == []
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"elt/trigger": "elt replay"}))
        assert sorted(r.tags["dagster/partition"] for r in runs) == ["2026-01-05", "2026-01-06"]

    code, out, _ = run("status")
    assert code == 0
    assert rows(out, "DLQ") == [["DLQ", "0", "0", "0"]]
    shipments = rows(out, "shipments")
    assert [r[:4] for r in shipments] == [
        ["shipments", "2026-01-06", "1", "15"],
        ["shipments", "2026-01-05", "1", "20"],
    ]
    assert all(r[-2:] == ["passed", "5/5"] for r in shipments)

    sqs = stack.client("sqs")
    for i in range(4):
        sqs.send_message(QueueUrl=stack.settings.dlq_url, MessageBody=json.dumps({"n": i}))
    assert run("redrive", "--dry-run")[1].startswith("would move 4 messages")
    code, out, _ = run("redrive", "--max", "3")
    assert code == 0 and "\nmoved 3 messages from the DLQ to the events queue" in out
    (bar,) = [line for line in out.splitlines() if "moving DLQ messages" in line]
    assert "3/3" in bar
    assert rows(out, "DLQ") == [["DLQ", "4", "1"]]
    assert rows(out, "events") == [["events", "queue", "0", "3"]]
    assert rows(run("status")[1], "DLQ") == [["DLQ", "1", "0", "0", "run", "`elt", "redrive`"]]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_scaffold_writes_a_contract_sample_and_test_that_pass(tmp_path, monkeypatch, fmt):
    from lambda_bridge.contracts import ContractRegistry, default_contracts_dir

    contracts = tmp_path / "contracts"
    contracts.mkdir()
    for existing in default_contracts_dir().glob("*.yaml"):
        (contracts / existing.name).write_bytes(existing.read_bytes())
    monkeypatch.chdir(tmp_path)
    argv = ["scaffold", "orders", "--format", fmt, "--contracts-dir", "contracts"]
    code, out, err = run(*argv, "--tests-dir", "tests")
    assert code == 0, err
    assert out.startswith(f"contract  contracts/orders.yaml\nsample    samples/orders.{fmt}\n")
    registry = ContractRegistry.load(contracts)
    assert "orders" in registry and registry["orders"].formats == (fmt,)
    assert registry.for_key("bronze/orders/dt=2026-01-05/a.jsonl").name == "orders"
    # The sample really goes through the pipeline's parser: three rows, one quarantined line.
    result = parse_object(
        (tmp_path / "samples" / f"orders.{fmt}").read_bytes(), registry["orders"], fmt
    )
    assert (result.rows_out, [b.code.value for b in result.bad]) == (3, ["type_mismatch"])
    # The generated test passes, from another working directory too.
    generated = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "tests")],
        cwd="/",
        capture_output=True,
        text=True,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    # A second scaffold of the same dataset refuses, in one sentence, and changes nothing.
    before = (contracts / "orders.yaml").read_bytes()
    code, _, err = run(*argv, "--tests-dir", "tests")
    assert code == 1 and "already exists" in err and one_sentence(err)
    assert (contracts / "orders.yaml").read_bytes() == before


def test_scaffold_refuses_bad_names_and_overlapping_prefixes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "all.yaml").write_text(
        "name: all\nbronze_prefix: bronze/\ncolumns: [{name: id, type: string}]\n"
    )
    for name, message in (("Bad-Name", "field 'name'"), ("orders", "overlaps")):
        code, _, err = run("scaffold", name, "--contracts-dir", "contracts")
        assert code == 1 and message in err and one_sentence(err)
    assert sorted(p.name for p in contracts.iterdir()) == ["all.yaml"]
    assert not (tmp_path / "samples").exists()
