"""`elt demo`, `elt local up` and `elt dev`: commands that start the embedded stack themselves."""

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from elt_assets.cli.common import console, dagster_home, quiet_lambda_output
from lambda_bridge.config import Settings

_PORT_HELP = "Moto server port (default: a free one)."
_VERBOSE_HELP = "Show the Lambdas' logs and metrics."


@click.command()
@click.option("--port", type=click.IntRange(min=0), default=0, help=_PORT_HELP)
@click.option("--verbose", is_flag=True, help=_VERBOSE_HELP)
def demo(port: int, verbose: bool) -> int:
    """The whole pipeline on the embedded stack, with a summary."""
    quiet_lambda_output(verbose, level="ERROR")
    from elt_assets.cli.demo import run_demo

    return run_demo(console(), port=port)


@click.group()
def local() -> None:
    """The embedded stack."""


@local.command()
@click.option("--port", type=click.IntRange(min=0), default=0, help=_PORT_HELP)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the settings (default: .elt/local.env).",
)
@click.option("--verbose", is_flag=True, help=_VERBOSE_HELP)
def up(port: int, env_file: Path | None, verbose: bool) -> int:
    """Run the embedded stack in the foreground.

    When it prints `ready` it has written the env file (`AWS_*` and every `ELT_*` setting), so
    any other process can use the stack; Ctrl-C stops it and removes the file.
    """
    quiet_lambda_output(verbose)
    with _running_stack(port, env_file) as (stack, env_path, stop):
        print(f"embedded stack on {stack.endpoint}; settings in {env_path}")
        print(f'warehouse: {stack.warehouse.url} (`elt sql "SELECT ..."`)')
        print(
            f"drop files into s3://{stack.settings.bronze_bucket}/bronze/<dataset>/ and watch "
            f"s3://{stack.settings.silver_bucket}/silver/; Ctrl-C stops"
        )
        print("ready", flush=True)
        stop.wait()
    return 0


@click.command()
@click.option("--port", type=click.IntRange(min=0), default=0, help=_PORT_HELP)
@click.option(
    "--dagster-port",
    type=click.IntRange(min=1),
    default=3000,
    help="Dagster UI port (default 3000).",
)
@click.option("--verbose", is_flag=True, help=_VERBOSE_HELP)
def dev(port: int, dagster_port: int, verbose: bool) -> int:
    """The embedded stack plus `dagster dev` on the same resources."""
    import subprocess

    quiet_lambda_output(verbose)
    url = f"http://127.0.0.1:{dagster_port}"
    with _running_stack(port, None) as (stack, env_path, stop):
        # `elt replay` in another shell prints links into this UI.
        with env_path.open("a", encoding="utf-8") as file:
            file.write(f"ELT_DAGSTER_URL={url}\n")
        env = {**os.environ, **stack.env(), "DAGSTER_HOME": str(dagster_home())}
        target = (
            ["-w", "workspace.yaml"]
            if Path("workspace.yaml").is_file()
            else ["-m", "elt_assets.definitions"]
        )
        command = [sys.executable, "-m", "dagster", "dev", *target]
        command += ["-h", "127.0.0.1", "-p", str(dagster_port)]
        print(f"embedded stack on {stack.endpoint}; settings in {env_path}")
        print(f"warehouse: {stack.warehouse.url}")
        print(f"starting Dagster: {url} (Ctrl-C stops everything)", flush=True)
        # Its own session, so stopping it reaches the webserver, daemon and code servers it
        # starts, however `elt dev` itself was signalled.
        dagster = subprocess.Popen(command, env=env, start_new_session=True)
        try:
            while not stop.is_set() and dagster.poll() is None:
                stop.wait(0.5)
        finally:
            _stop_process_group(dagster)
    return 0 if stop.is_set() else (dagster.returncode or 0)


@contextmanager
def _running_stack(port: int, env_file: Path | None) -> Iterator[tuple[Any, Path, threading.Event]]:
    """The stack and its Lambda runner, its env file written, and an event SIGINT/SIGTERM set.

    On the way out everything is stopped and the env file removed, so no other process is
    pointed at a stack that is gone.
    """
    from elt_assets.cli.local.runner import LambdaRunner
    from elt_assets.cli.local.stack import ENV_FILE, WAREHOUSE_DIR, start_stack

    stack = start_stack(
        port, contracts_dir=Settings.from_env().contracts_dir, warehouse_dir=WAREHOUSE_DIR
    )
    runner = LambdaRunner(stack).start()
    env_path = stack.write_env_file(env_file or ENV_FILE)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield stack, env_path, stop
    finally:
        runner.stop()
        stack.stop()
        env_path.unlink(missing_ok=True)
        print("stopped")


# `elt dev` must be gone within 10 s of Ctrl-C: Dagster gets most of it to shut down cleanly, the
# rest (runner, moto, PostgreSQL) stops in well under a second after it.
STOP_STEPS = ((signal.SIGINT, 5.0), (signal.SIGTERM, 2.0), (signal.SIGKILL, 1.0))


def _stop_process_group(process: Any, steps: tuple[tuple[int, float], ...] = STOP_STEPS) -> None:
    """SIGINT to the whole group (what Ctrl-C sends), then SIGTERM, then SIGKILL.

    Each signal gets its own wait, for the whole group and not only its leader: the daemon and
    code servers `dagster dev` starts outlive it when it exits first.
    """
    for sig, wait in steps:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        if _group_gone(process, time.monotonic() + wait):
            break
    process.poll()  # reap the leader if it has exited


def _group_gone(process: Any, deadline: float) -> bool:
    while True:
        process.poll()  # a zombie leader keeps the group alive until it is reaped
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
