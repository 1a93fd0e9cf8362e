"""The `elt` command line (DESIGN §6). User errors print one sentence to stderr and exit 1."""

import argparse
import datetime as dt
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

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
    from elt_assets.demo import run_demo

    return run_demo(port=args.port)


def cmd_local_up(args: argparse.Namespace) -> int:
    _quiet_lambda_output(args.verbose)
    from elt_assets.local.runner import LambdaRunner
    from elt_assets.local.stack import start_stack

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


def cmd_gen_events(args: argparse.Namespace) -> int:
    from elt_assets.generate import generate

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


def cmd_where(args: argparse.Namespace) -> int:
    import boto3

    from elt_assets.state import where
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
