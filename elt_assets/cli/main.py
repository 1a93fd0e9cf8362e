"""The `elt` command line (DESIGN §6). User errors print one sentence to stderr and exit 1."""

import argparse
import datetime as dt
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from lambda_bridge.config import Settings
from lambda_bridge.exceptions import EltError

LOCAL_ENV = Path(".elt") / "local.env"


class UsageError(EltError):
    """The command line asked for something that cannot be done."""


def load_env_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines, as `elt local up` writes them."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def _use_local_env_if_unset(explicit: str | None) -> None:
    """Point at the running `elt local up` stack unless the environment already says where to go."""
    path = Path(explicit) if explicit else LOCAL_ENV
    if explicit and not path.is_file():
        msg = f"env file {path} does not exist"
        raise UsageError(msg)
    if not path.is_file():
        return
    if not explicit and os.environ.get("ELT_BRONZE_BUCKET"):
        return
    for key, value in load_env_file(path).items():
        if explicit or key not in os.environ:
            os.environ[key] = value


def _settings() -> Settings:
    return Settings.from_env().require("bronze_bucket", "silver_bucket")


def _quiet_lambda_output(verbose: bool, level: str = "WARNING") -> None:
    """The Lambdas log JSON and emit EMF metrics to stdout; locally that is noise unless asked."""
    if not verbose:
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", level)


def cmd_demo(args: argparse.Namespace) -> int:
    _quiet_lambda_output(args.verbose, level="ERROR")
    from elt_assets.cli.demo import run_demo

    return run_demo(port=args.port)


def cmd_local_up(args: argparse.Namespace) -> int:
    _quiet_lambda_output(args.verbose)
    from elt_assets.cli.local.runner import LambdaRunner
    from elt_assets.cli.local.stack import start_stack

    contracts = Settings.from_env().contracts_dir
    stack = start_stack(args.port, contracts_dir=contracts)
    runner = LambdaRunner(stack).start()
    env_path = stack.write_env_file(Path(args.env_file))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"embedded stack on {stack.endpoint}; settings in {env_path}")
    print(
        f"drop files into s3://{stack.settings.bronze_bucket}/bronze/<dataset>/ and watch "
        f"s3://{stack.settings.silver_bucket}/silver/; Ctrl-C stops"
    )
    print("ready", flush=True)
    try:
        stop.wait()
    finally:
        runner.stop()
        stack.stop()
        env_path.unlink(missing_ok=True)
        print("stopped")
    return 0


DAGSTER_HOME = Path(".elt") / "dagster_home"


def _dagster_home() -> Path:
    """The Dagster instance `elt dev`, `elt replay` and `elt status` share (DAGSTER_HOME wins)."""
    home = Path(os.environ.get("DAGSTER_HOME") or DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def cmd_dev(args: argparse.Namespace) -> int:
    import subprocess

    _quiet_lambda_output(args.verbose)
    from elt_assets.cli.local.runner import LambdaRunner
    from elt_assets.cli.local.stack import start_stack

    stack = start_stack(args.port, contracts_dir=Settings.from_env().contracts_dir)
    runner = LambdaRunner(stack).start()
    env_path = stack.write_env_file(LOCAL_ENV)
    env = {**os.environ, **stack.env(), "DAGSTER_HOME": str(_dagster_home())}
    target = (
        ["-w", "workspace.yaml"]
        if Path("workspace.yaml").is_file()
        else ["-m", "elt_assets.definitions"]
    )
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        *target,
        "-h",
        "127.0.0.1",
        "-p",
        str(args.dagster_port),
    ]
    print(f"embedded stack on {stack.endpoint}; settings in {env_path}")
    print(
        f"starting Dagster: http://127.0.0.1:{args.dagster_port} (Ctrl-C stops everything)",
        flush=True,
    )
    # Its own session, so stopping it reaches the webserver, daemon and code servers it starts,
    # however `elt dev` itself was signalled.
    dagster = subprocess.Popen(command, env=env, start_new_session=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.is_set() and dagster.poll() is None:
            stop.wait(0.5)
    finally:
        _stop_process_group(dagster)
        runner.stop()
        stack.stop()
        env_path.unlink(missing_ok=True)
        print("stopped")
    return 0 if stop.is_set() else (dagster.returncode or 0)


def _stop_process_group(process: Any) -> None:
    """SIGINT to the whole group (what Ctrl-C sends), then SIGTERM, then SIGKILL."""
    import subprocess

    for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; give the rest of the group the same chance before moving on.
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def cmd_replay(args: argparse.Namespace) -> int:
    start, end = _date(args.start, "--start"), _date(args.end or args.start, "--end")
    if end < start:
        msg = f"--end {end} is before --start {start}"
        raise UsageError(msg)
    settings = _settings()
    from lambda_bridge.contracts import ContractRegistry

    registry = ContractRegistry.load(settings.contracts_dir)
    if args.dataset not in registry:
        msg = f"unknown dataset {args.dataset!r} (known: {', '.join(registry.names)})"
        raise UsageError(msg)
    _dagster_home()
    import dagster as dg

    from elt_assets.definitions import defs as load_definitions
    from elt_assets.defs.datasets.assets import silver_key

    defs = load_definitions()
    repo = defs.get_repository_def()
    key = silver_key(args.dataset)
    checks = set(repo.asset_graph.get_check_keys_for_assets([key])) if not args.no_checks else set()
    job = repo.get_implicit_global_asset_job_def().get_subset(
        asset_selection={key}, asset_check_selection=checks
    )
    failures = 0
    with dg.DagsterInstance.get() as instance:
        day = start
        while day <= end:
            # One run per partition: each day's checks are recorded against that day.
            result = job.execute_in_process(
                partition_key=day.isoformat(), instance=instance, raise_on_error=False,
                tags={"elt/trigger": "elt replay"},
            )  # fmt: skip
            event = instance.get_latest_materialization_event(key)
            meta = (
                {k: v.value for k, v in event.asset_materialization.metadata.items()}
                if event
                else {}
            )
            failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
            failures += (not result.success) + len(failed)
            print(
                f"{args.dataset} dt={day}: {meta.get('objects', 0)} objects, {meta.get('rows_out', 0)} rows, "
                f"{meta.get('rows_quarantined', 0)} quarantined in {meta.get('seconds', 0)}s"
                + (f"; checks failed: {', '.join(failed)}" if failed else "")
                + ("" if result.success else "; the run failed (see dagster)")
            )
            day += dt.timedelta(days=1)
    return 1 if failures else 0


def _date(text: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        msg = f"{flag} must be a date like 2026-01-05, got {text!r}"
        raise UsageError(msg) from None


def cmd_redrive(args: argparse.Namespace) -> int:
    import boto3

    from elt_assets.lib.redrive import redrive

    settings = Settings.from_env().require("queue_url", "dlq_url")
    result = redrive(
        boto3.client("sqs"),
        settings.dlq_url,
        settings.queue_url,
        max_messages=args.max,
        dry_run=args.dry_run,
    )
    verb = "would move" if args.dry_run else "moved"
    count = result.seen if args.dry_run else result.moved
    print(
        f"{verb} {count} messages from the DLQ to the events queue ({result.method}); failed {result.failed}"
    )
    for error in result.errors[:5]:
        print(f"  {error}", file=sys.stderr)
    return 1 if result.failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    import boto3

    from elt_assets.lib.state import latest_partitions, queue_depths
    from lambda_bridge.contracts import ContractRegistry

    settings = Settings.from_env().require("silver_bucket", "queue_url", "dlq_url")
    sqs, s3 = boto3.client("sqs"), boto3.client("s3")
    queue, dlq = queue_depths(sqs, settings.queue_url), queue_depths(sqs, settings.dlq_url)
    print(f"events queue  {queue['visible']} visible, {queue['in_flight']} in flight")
    print(
        f"DLQ           {dlq['visible']} visible"
        + ("  (run `elt redrive`)" if dlq["visible"] else "")
    )
    outcomes = _check_outcomes_by_partition()
    print(f"\n{'dataset':<16}{'dt':<12}{'objects':>8}{'rows':>10}{'quarant.':>10}  checks")
    for contract in ContractRegistry.load(settings.contracts_dir):
        days = latest_partitions(s3, settings.silver_bucket, contract.name, args.days)
        if not days:
            print(f"{contract.name:<16}{'-':<12}{0:>8}{0:>10}{0:>10}  -")
        for day, totals in days:
            found = outcomes(day, contract.name)
            if not found:
                verdict = "not run"
            elif all(o.passed for o in found):
                verdict = f"passed {len(found)}/{len(found)}"
            else:
                verdict = "FAILED: " + ", ".join(o.name for o in found if not o.passed)
            print(
                f"{contract.name:<16}{day:<12}{totals['objects']:>8}{totals['rows_out']:>10,}{totals['rows_quarantined']:>10,}  {verdict}"
            )
    return 0


def _check_outcomes_by_partition():
    """Check outcomes from the Dagster instance, when there is one (elt dev / elt replay made it)."""
    home = os.environ.get("DAGSTER_HOME") or (str(DAGSTER_HOME) if DAGSTER_HOME.is_dir() else "")
    if not home:
        return lambda day, dataset: []
    os.environ["DAGSTER_HOME"] = str(Path(home).resolve())
    import dagster as dg

    from elt_assets.defs.daily.outcomes import latest_check_outcomes

    instance = dg.DagsterInstance.get()
    cache: dict[str, list] = {}

    def lookup(day: str, dataset: str) -> list:
        if day not in cache:
            cache[day] = latest_check_outcomes(instance, day)
        return [o for o in cache[day] if o.dataset == dataset]

    return lookup


def cmd_gen_events(args: argparse.Namespace) -> int:
    from elt_assets.cli.samples import generate

    day = dt.date.fromisoformat(args.day) if args.day else None
    try:
        file = generate(
            args.dataset,
            args.format,
            args.count,
            bad_ratio=args.bad_ratio,
            seed=args.seed,
            day=day,
            compress=args.gzip or args.out.endswith(".gz"),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_bytes(file.data)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(file.bad.items())) or "none"
    print(
        f"wrote {args.out}: {file.records} {args.dataset} records as {args.format}, "
        f"{file.bad_total} bad ({kinds}), {len(file.data):,} bytes"
    )
    return 0


def _parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        msg = f"expected s3://bucket/key, got {uri!r}"
        raise UsageError(msg)
    bucket, key = uri[5:].split("/", 1)
    if not bucket or not key:
        msg = f"expected s3://bucket/key, got {uri!r}"
        raise UsageError(msg)
    return bucket, key


def cmd_scaffold(args: argparse.Namespace) -> int:
    from elt_assets.cli.scaffold import scaffold
    from lambda_bridge.contracts import default_contracts_dir

    if args.contracts_dir:
        contracts = Path(args.contracts_dir)
    else:
        contracts = Settings.from_env().contracts_dir or default_contracts_dir()
    tests = Path(
        args.tests_dir or ("elt_assets_tests" if Path("elt_assets_tests").is_dir() else "tests")
    )
    made = scaffold(args.dataset, args.format, contracts, Path(args.samples_dir), tests, args.force)
    print(f"contract  {made.contract}")
    print(f"sample    {made.sample}")
    print(f"test      {made.test}")
    print(
        "next: edit the contract's columns and checks, make the sample match, run the test; "
        f"producers write to s3://$ELT_BRONZE_BUCKET/bronze/{args.dataset}/dt=YYYY-MM-DD/<name>"
    )
    return 0


def cmd_where(args: argparse.Namespace) -> int:
    import boto3

    from elt_assets.lib.state import where
    from lambda_bridge.contracts import ContractRegistry

    bucket, key = _parse_s3_uri(args.uri)
    settings = Settings.from_env().require("silver_bucket", "idempotency_table")
    lines = where(
        boto3.client("s3"),
        boto3.client("dynamodb"),
        settings,
        ContractRegistry.load(settings.contracts_dir),
        bucket,
        key,
        args.version_id,
    )
    print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elt", description="Serverless ELT: bronze -> silver, with Dagster on top."
    )
    parser.add_argument(
        "--env-file",
        help="read KEY=VALUE settings from this file (default: .elt/local.env when present)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the whole pipeline on the embedded stack, with a summary")
    demo.add_argument("--port", type=int, default=0, help="moto server port (default: a free one)")
    demo.add_argument("--verbose", action="store_true", help="show the Lambdas' logs and metrics")
    demo.set_defaults(func=cmd_demo, local=True)

    local = sub.add_parser("local", help="the embedded stack")
    local_sub = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    up = local_sub.add_parser("up", help="run the embedded stack in the foreground")
    up.add_argument("--port", type=int, default=0, help="moto server port (default: a free one)")
    up.add_argument(
        "--env-file", dest="env_file", default=str(LOCAL_ENV), help="where to write the settings"
    )
    up.add_argument("--verbose", action="store_true", help="show the Lambdas' logs and metrics")
    up.set_defaults(func=cmd_local_up, local=True)

    gen = sub.add_parser("gen-events", help="write realistic sample events for a dataset")
    gen.add_argument("--dataset", required=True)
    gen.add_argument("--count", type=int, default=100)
    gen.add_argument("--format", default="jsonl", choices=["jsonl", "json", "csv"])
    gen.add_argument("--bad-ratio", type=float, default=0.0, help="share of bad lines, e.g. 0.01")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--day", help="YYYY-MM-DD the events happen on (default: today)")
    gen.add_argument(
        "--gzip", action="store_true", help="gzip the file (also implied by a .gz name)"
    )
    gen.add_argument("--out", required=True, help="file to write")
    gen.set_defaults(func=cmd_gen_events, local=True)

    where_cmd = sub.add_parser("where", help="what became of one bronze object")
    where_cmd.add_argument("uri", help="s3://bucket/key of the bronze object")
    where_cmd.add_argument("--version-id", help="a specific version (default: the current one)")
    where_cmd.set_defaults(func=cmd_where, local=False)

    scaffold_cmd = sub.add_parser("scaffold", help="a new dataset: contract, sample file and test")
    scaffold_cmd.add_argument("dataset", help="the dataset name, [a-z][a-z0-9_]*")
    scaffold_cmd.add_argument("--format", default="jsonl", choices=["jsonl", "json", "csv"])
    scaffold_cmd.add_argument(
        "--contracts-dir",
        help="where contracts live (default: $ELT_CONTRACTS_DIR or the packaged ones)",
    )
    scaffold_cmd.add_argument("--samples-dir", default="samples", help="default: samples/")
    scaffold_cmd.add_argument(
        "--tests-dir", help="default: elt_assets_tests/ in this repository, else tests/"
    )
    scaffold_cmd.add_argument("--force", action="store_true", help="overwrite existing files")
    scaffold_cmd.set_defaults(func=cmd_scaffold, local=True)

    dev = sub.add_parser("dev", help="the embedded stack plus `dagster dev` on the same resources")
    dev.add_argument("--port", type=int, default=0, help="moto server port (default: a free one)")
    dev.add_argument(
        "--dagster-port", type=int, default=3000, help="Dagster UI port (default 3000)"
    )
    dev.add_argument("--verbose", action="store_true", help="show the Lambdas' logs and metrics")
    dev.set_defaults(func=cmd_dev, local=True)

    replay = sub.add_parser(
        "replay", help="replay a dataset over a date range (silver partitions and their checks)"
    )
    replay.add_argument("--dataset", required=True)
    replay.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    replay.add_argument("--end", help="last day, inclusive (default: --start)")
    replay.add_argument(
        "--no-checks", action="store_true", help="materialize silver without running its checks"
    )
    replay.set_defaults(func=cmd_replay, local=False)

    redrive_cmd = sub.add_parser("redrive", help="move DLQ messages back to the events queue")
    redrive_cmd.add_argument("--max", type=int, help="move at most this many")
    redrive_cmd.add_argument("--dry-run", action="store_true", help="count, move nothing")
    redrive_cmd.set_defaults(func=cmd_redrive, local=False)

    status = sub.add_parser("status", help="queue/DLQ depths and the latest partitions per dataset")
    status.add_argument(
        "--days", type=int, default=3, help="how many recent partitions per dataset"
    )
    status.set_defaults(func=cmd_status, local=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if not args.local:
            _use_local_env_if_unset(args.env_file)
        return args.func(args)
    except EltError as exc:
        print(f"elt: {exc}", file=sys.stderr)
    except NoCredentialsError:
        print("elt: no AWS credentials: run `elt local up` or set AWS credentials", file=sys.stderr)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"elt: AWS said {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
    except BotoCoreError as exc:
        print(f"elt: cannot reach AWS: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
