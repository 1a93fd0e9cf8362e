"""What the `elt` commands share: the env file, settings, the console and the option types.

Nothing heavy at import time (no dagster, boto3 or pyarrow): `elt --help` imports this module.
"""

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from lambda_bridge.config import Settings
from lambda_bridge.exceptions import EltError

DAGSTER_HOME = Path(".elt") / "dagster_home"
_LOG_WIDTH = 200


class UsageError(EltError):
    """The command line asked for something that cannot be done; `elt` exits with 2."""


def use_env_file(explicit: Path | None) -> None:
    """Point at a running `elt local up` stack, as `.elt/local.env` (or `--env-file`) says.

    An explicit file wins over the environment. The default file is read only when the
    environment does not already name a stack, and then only fills what is unset, so a shell
    that sourced other settings is never silently redirected.
    """
    from dotenv import load_dotenv

    from elt_assets.cli.local.stack import ENV_FILE

    path = explicit or ENV_FILE
    if not path.is_file() or (explicit is None and os.environ.get("ELT_BRONZE_BUCKET")):
        return
    # Literal values: the file is written by `elt local up`, which does not escape `$`.
    load_dotenv(path, override=explicit is not None, interpolate=False)


def settings(*required: str) -> Settings:
    """The pipeline's settings from the environment, failing in one sentence if any is unset."""
    return Settings.from_env().require(*required)


def dagster_home() -> Path:
    """The Dagster instance `elt dev`, `elt replay` and `elt status` share (DAGSTER_HOME wins)."""
    home = Path(os.environ.get("DAGSTER_HOME") or DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def quiet_lambda_output(verbose: bool, level: str = "WARNING") -> None:
    """The Lambdas log JSON and emit EMF metrics to stdout; locally that is noise unless asked."""
    if not verbose:
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", level)


def quiet_dagster(verbose: bool) -> None:
    """Dagster's own log lines (e.g. "no dagster.yaml found") only when asked for."""
    if not verbose:
        logging.getLogger("dagster").setLevel(logging.ERROR)


def console(stderr: bool = False) -> Any:
    """A rich console for plain lines and tables.

    No markup or emoji codes (dataset names, keys and error texts are printed as they are) and
    no wrapping of long lines, so a piped or captured output keeps one record per line.
    """
    from rich.console import Console

    out = Console(stderr=stderr, markup=False, emoji=False, highlight=False, soft_wrap=True)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        # A pipe or a log has no width: tables keep their natural width, not a made-up 80.
        out.width = _LOG_WIDTH
    return out


def progress(out: Any) -> Any:
    """A progress bar for work that takes more than a couple of seconds (rich)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    )


def table(*columns: str, title: str | None = None) -> Any:
    """A rich table; columns named with a leading `>` are right-aligned (numbers).

    Only the last column wraps when the terminal is narrow: names, days and numbers stay whole.
    """
    from rich import box
    from rich.table import Table

    result = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for n, column in enumerate(columns, start=1):
        result.add_column(
            column.lstrip(">"),
            justify="right" if column.startswith(">") else "left",
            no_wrap=n < len(columns),
            overflow="fold",
        )
    return result


class IsoDate(click.ParamType):
    """A day as YYYY-MM-DD."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            self.fail(f"must be a date like 2026-01-05, got {value!r}", param, ctx)


class S3Uri(click.ParamType):
    """`s3://bucket/key`, converted to (bucket, key)."""

    name = "s3://bucket/key"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        bucket, _, key = str(value).removeprefix("s3://").partition("/")
        if not str(value).startswith("s3://") or not bucket or not key:
            self.fail(f"expected s3://bucket/key, got {value!r}", param, ctx)
        return bucket, key


class LazyChoice(click.Choice):
    """A choice among values known only at run time, e.g. the datasets of the contract registry.

    The values are looked up when first needed in an invocation, so they reflect the env file
    the `elt` group loaded (ELT_CONTRACTS_DIR), and importing the command costs nothing.
    """

    def __init__(self, load: Callable[[], Iterable[str]], noun: str) -> None:
        self.load = load
        self.noun = noun
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        context = click.get_current_context(silent=True)
        cache: dict[Any, Any] = context.find_root().meta if context else {}
        key = ("elt.choices", id(self))
        if key not in cache:
            cache[key] = tuple(self.load())
        return cache[key]

    def get_metavar(self, param: Any, ctx: Any) -> str:
        try:
            return super().get_metavar(param, ctx)
        except EltError:
            # A broken contracts folder must not break --help; using the option will say why.
            return self.noun.upper()

    def get_missing_message(self, param: Any, ctx: Any) -> str:
        return f"Choose from: {', '.join(self.choices)}."

    def get_invalid_choice_message(self, value: Any, ctx: Any) -> str:
        return f"unknown {self.noun} {value!r} (known: {', '.join(self.choices)})"


def _registry_datasets() -> list[str]:
    from lambda_bridge.contracts import ContractRegistry

    return list(ContractRegistry.load(Settings.from_env().contracts_dir).names)


def _formats() -> tuple[str, ...]:
    from lambda_bridge.contracts import FORMATS

    return FORMATS


DATASETS = LazyChoice(_registry_datasets, "dataset")
FORMATS = LazyChoice(_formats, "format")
