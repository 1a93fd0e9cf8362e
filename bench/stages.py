"""Where the time goes: our transform and the floor cut into stages, timed in the same process.

The throughput table says how far from the floor we are; this says why. Each stage runs the
project's real functions on the large file, stages interleaved run by run like the candidates,
inside the throughput worker of each thread count (so the same thread pinning applies).
"""

import gc
import io
import time
from collections.abc import Callable
from typing import Any

from bench.common import Figure, median

# (key, label) in table order; a key absent from a column's measurements prints as "—".
ROWS = (
    ("read", "Read JSON into Arrow (polars `read_ndjson` / pyarrow `read_json`, contract schema)"),
    ("checks", "Checks and casts after the read (`parse_object` minus the read)"),
    ("screen", "Typed per-line check of every line (msgspec; only files with bad lines)"),
    ("parse", "`parse_object` in all"),
    ("lineage", "Lineage columns (`with_lineage`)"),
    ("write", "Parquet write (zstd 1; ours: `to_parquet`)"),
    ("total", "Total"),
)
COLUMNS = ("floor", "clean", "bad")


def measure(clean: bytes, bad: bytes, runs: int) -> dict[str, dict[str, float]]:
    """Median seconds of each stage, by column (`floor`, `clean`, `bad`) and stage key."""
    import polars as pl

    from bench.ours import CONTRACT, INGESTED_AT, SOURCE_KEY, SOURCE_VERSION
    from lambda_bridge.parse import parse_object
    from lambda_bridge.parse.isolating import _decoder
    from lambda_bridge.parse.lines import _LineIndex, _read_json, _read_schema
    from lambda_bridge.silver import (
        PARQUET_COMPRESSION,
        PARQUET_COMPRESSION_LEVEL,
        to_parquet,
        with_lineage,
    )

    frame = pl.read_ndjson(clean)
    schema = _read_schema(CONTRACT)
    results = {"clean": parse_object(clean, CONTRACT, "jsonl")}
    results["bad"] = parse_object(bad, CONTRACT, "jsonl")
    tables = {
        name: with_lineage(result, CONTRACT, SOURCE_KEY, SOURCE_VERSION, INGESTED_AT)
        for name, result in results.items()
    }
    decoder = _decoder(CONTRACT)
    index = _LineIndex(clean)
    view = memoryview(clean)
    runs_of_lines = [
        (int(index.starts[i]), int(index.ends[min(i + 1000, len(index.starts)) - 1]))
        for i in range(0, len(index.starts), 1000)
    ]

    def floor_write() -> None:
        frame.write_parquet(
            io.BytesIO(),
            compression=PARQUET_COMPRESSION,
            compression_level=PARQUET_COMPRESSION_LEVEL,
        )

    def screen() -> None:
        # What the isolating path spends checking lines one run at a time (its runs end at
        # the bad lines; here at every 1000th line of the clean file, about the same cost).
        for lo, hi in runs_of_lines:
            decoder.decode_lines(view[lo:hi])

    groups: list[dict[tuple[str, str], Callable[[], Any]]] = [
        {
            ("floor", "read"): lambda: pl.read_ndjson(clean),
            ("floor", "write"): floor_write,
        },
        {
            ("clean", "parse"): lambda: parse_object(clean, CONTRACT, "jsonl"),
            ("clean", "read"): lambda: _read_json(clean, schema),
            ("clean", "lineage"): lambda: with_lineage(
                results["clean"], CONTRACT, SOURCE_KEY, SOURCE_VERSION, INGESTED_AT
            ),
            ("clean", "write"): lambda: to_parquet(tables["clean"], CONTRACT),
        },
        {
            ("bad", "parse"): lambda: parse_object(bad, CONTRACT, "jsonl"),
            ("bad", "screen"): screen,
            ("bad", "lineage"): lambda: with_lineage(
                results["bad"], CONTRACT, SOURCE_KEY, SOURCE_VERSION, INGESTED_AT
            ),
            ("bad", "write"): lambda: to_parquet(tables["bad"], CONTRACT),
        },
    ]
    seconds: dict[tuple[str, str], list[float]] = {key: [] for group in groups for key in group}
    for r in range(runs + 1):  # the first round is the warm-up
        # A stage run right after the other library's is slower (its memory is cold), so
        # the candidates' groups take turns going first, as the candidates do.
        shift = r % len(groups)
        for group in groups[shift:] + groups[:shift]:
            for key, fn in group.items():
                gc.collect()
                start = time.perf_counter()
                fn()
                if r:
                    seconds[key].append(time.perf_counter() - start)
    out: dict[str, dict[str, float]] = {column: {} for column in COLUMNS}
    for (column, stage), values in seconds.items():
        out[column][stage] = median(values)
    out["clean"]["checks"] = out["clean"]["parse"] - out["clean"]["read"]
    out["floor"]["total"] = out["floor"]["read"] + out["floor"]["write"]
    for column in ("clean", "bad"):
        stage = out[column]
        stage["total"] = stage["parse"] + stage["lineage"] + stage["write"]
    return out


def figures(stages: dict[str, dict[str, float]], size: str, threads: int) -> list[Figure]:
    floor_total = stages["floor"]["total"]
    out = [
        Figure(
            section="throughput",
            name=f"stage {stage} {column} {size} {threads}t",
            value=seconds,
            unit="s",
            baseline=f"floor total {size} {threads}t",
            baseline_value=floor_total,
        )
        for column in COLUMNS
        for stage, seconds in stages[column].items()
    ]
    out.append(
        Figure(
            section="throughput",
            name=f"ceiling without any check {size} {threads}t",
            value=_ceiling(stages),
            unit="x floor",
            note="floor total / (pyarrow read_json + our Parquet write): our best ratio if"
            " checks, casts and lineage cost nothing",
        )
    )
    return out


def _ceiling(stages: dict[str, dict[str, float]]) -> float:
    return stages["floor"]["total"] / (stages["clean"]["read"] + stages["clean"]["write"])


def table(stages: dict[str, dict[str, float]], size: str, threads: int) -> str:
    floor_total = stages["floor"]["total"]
    lines = [
        f"Stages on the {size} files, {threads} thread{'s' if threads > 1 else ''}"
        " (median seconds; in brackets, as a share of the floor's total):",
        "",
        "| Stage | floor (clean) | ours, clean | ours, 1% bad |",
        "|---|---:|---:|---:|",
    ]
    for key, label in ROWS:
        cells = []
        for column in COLUMNS:
            seconds = stages[column].get(key)
            cells.append("—" if seconds is None else f"{seconds:.3f} ({seconds / floor_total:.2f})")
        name = f"**{label}**" if key == "total" else label
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += [
        "",
        f"With no check, cast or lineage at all, pyarrow's read plus our write would be"
        f" {_ceiling(stages):.2f}× the floor here: that is this design's ceiling.",
    ]
    return "\n".join(lines)
