"""`elt gen-events` and `elt scaffold`: local files for a dataset (sample events, a new contract)."""

import datetime as dt
from pathlib import Path

import click

from elt_assets.cli.common import FORMATS, IsoDate, LazyChoice, UsageError, console
from lambda_bridge.config import Settings


def _example_datasets() -> tuple[str, ...]:
    from elt_assets.cli.samples import DATASETS

    return DATASETS


@click.command("gen-events")
@click.option(
    "--dataset",
    required=True,
    type=LazyChoice(_example_datasets, "dataset"),
    help="Which example dataset's events to generate.",
)
@click.option(
    "--count",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Records in the file, bad ones included.",
)
@click.option("--format", "fmt", type=FORMATS, default="jsonl", show_default=True)
@click.option(
    "--bad-ratio",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of bad lines, e.g. 0.01, of every kind the format can hold.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="The same arguments write the same bytes.",
)
@click.option("--day", type=IsoDate(), help="The day the events happen on (default: today, UTC).")
@click.option(
    "--gzip", "compress", is_flag=True, help="Gzip the file (also implied by a .gz name)."
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
def gen_events(
    dataset: str,
    count: int,
    fmt: str,
    bad_ratio: float,
    seed: int,
    day: dt.date | None,
    compress: bool,
    out: Path,
) -> int:
    """Realistic sample events, optionally with bad lines."""
    from elt_assets.cli.samples import generate

    try:
        file = generate(
            dataset,
            fmt,
            count,
            bad_ratio=bad_ratio,
            seed=seed,
            day=day,
            compress=compress or out.name.endswith(".gz"),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(file.data)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(file.bad.items())) or "none"
    console().print(
        f"wrote {out}: {file.records} {dataset} records as {fmt}, "
        f"{file.bad_total} bad ({kinds}), {len(file.data):,} bytes"
    )
    return 0


@click.command("scaffold")
@click.argument("dataset")
@click.option("--format", "fmt", type=FORMATS, default="jsonl", show_default=True)
@click.option(
    "--contracts-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where contracts live (default: $ELT_CONTRACTS_DIR or the packaged ones).",
)
@click.option(
    "--samples-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("samples"),
    show_default=True,
)
@click.option(
    "--tests-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Default: elt_assets_tests/ in this repository, else tests/.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def scaffold(
    dataset: str,
    fmt: str,
    contracts_dir: Path | None,
    samples_dir: Path,
    tests_dir: Path | None,
    force: bool,
) -> int:
    """A new dataset: contract, sample file and test.

    DATASET is the new dataset's name, [a-z][a-z0-9_]*.
    """
    from elt_assets.cli.scaffold import scaffold as write_scaffold
    from lambda_bridge.contracts import default_contracts_dir

    contracts = contracts_dir or Settings.from_env().contracts_dir or default_contracts_dir()
    tests = tests_dir or Path("elt_assets_tests" if Path("elt_assets_tests").is_dir() else "tests")
    made = write_scaffold(dataset, fmt, contracts, samples_dir, tests, force)
    out = console()
    out.print(f"contract  {made.contract}")
    out.print(f"sample    {made.sample}")
    out.print(f"test      {made.test}")
    out.print(
        "next: edit the contract's columns and checks, make the sample match, run the test; "
        f"producers write to s3://$ELT_BRONZE_BUCKET/bronze/{dataset}/dt=YYYY-MM-DD/<name>"
    )
    return 0
