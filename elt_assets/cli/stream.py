"""`elt stream put`: records on a dataset's Kinesis stream, as a streaming producer sends them.

Firehose (on AWS; the embedded stack's runner locally) delivers them to bronze as gzip JSONL
objects, and the hot path takes over (DESIGN §11).
"""

import click

from elt_assets.cli.common import LazyChoice, UsageError, console, settings
from elt_assets.cli.data import _example_datasets


@click.group()
def stream() -> None:
    """Kinesis streams feeding bronze."""


@stream.command("put")
@click.option(
    "--dataset",
    required=True,
    type=LazyChoice(_example_datasets, "dataset"),
    help="The dataset whose stream gets the records (ELT_STREAMS names the streams).",
)
@click.option("--count", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option(
    "--bad-ratio",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of bad records (bad JSON, missing fields, wrong types...), e.g. 0.01.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="The same arguments put the same records.",
)
def put(dataset: str, count: int, bad_ratio: float, seed: int) -> int:
    """Put COUNT generated records of DATASET on its stream, one record per line."""
    import boto3

    from elt_assets.cli.local.firehose import put_records
    from elt_assets.cli.samples import generate

    streams = settings().stream_names()
    if dataset not in streams:
        known = ", ".join(sorted(streams)) or "none: set ELT_STREAMS, or run `elt local up`"
        msg = f"no stream for {dataset} (streams: {known})"
        raise UsageError(msg)
    sample = generate(dataset, count=count, bad_ratio=bad_ratio, seed=seed)
    lines = sample.data.splitlines()
    put_count = put_records(boto3.client("kinesis"), streams[dataset], lines)
    console().print(
        f"put {put_count:,} records on {streams[dataset]} ({sample.bad_total:,} bad); "
        f"Firehose delivers them to bronze/{dataset}/dt=<today>/ as gzip JSONL"
    )
    return 0
