"""Section 1: transform throughput of our transform against the floor and two common baselines.

Each thread-count configuration runs in its own worker process (polars fixes its thread pool
when it is imported); inside it, every candidate of a file size is warmed up once, then timed
run by run in rotating order, so all candidates see the same machine noise.
"""

import gc
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import stages
from bench.common import MB, Figure, at_least, median, run_worker
from bench.report import Section, number

TARGET_CLEAN = 0.8
TARGET_BAD = 0.6
THREAD_COUNTS = (1, 2)
LABELS = {
    "ours": "ours (lambda_bridge)",
    "floor": "floor (polars, no validation)",
    "per_record": "per-record (json.loads + from_pylist)",
    "pandas": "pandas read_json + to_parquet",
}
# Codecs compared on our silver table (written as to_parquet writes it), to show the choice.
CODECS = (("zstd", 1), ("zstd", 3), ("snappy", None))


# -- worker side (runs inside `python -m bench.worker throughput`) ---------------------------


@dataclass
class Case:
    """One candidate on one file, with every timed run."""

    size: str
    file: str
    candidate: str
    records: int
    data: bytes = field(repr=False)
    fn: Callable[[bytes], Any] = field(repr=False)
    seconds: list[float] = field(default_factory=list)
    output: Any = None
    error: str | None = None

    def run(self, timed: bool) -> None:
        gc.collect()  # garbage of the previous candidate must not be collected on our clock
        start = time.perf_counter()
        try:
            output = self.fn(self.data)
        except Exception as exc:  # the baselines fail on bad lines by design: record, go on
            self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            return
        elapsed = time.perf_counter() - start
        if timed:
            self.seconds.append(elapsed)
        self.output = output

    def summary(self, threads: int) -> dict[str, Any]:
        row: dict[str, Any] = {
            "threads": threads,
            "size": self.size,
            "file": self.file,
            "candidate": self.candidate,
            "records": self.records,
            "bytes_in": len(self.data),
            "seconds": self.seconds,
            "error": self.error,
        }
        if self.error is None and self.seconds:
            seconds = median(self.seconds)
            row |= {
                "median_s": seconds,
                "mb_s": len(self.data) / MB / seconds,
                "rows_s": self.records / seconds,
                **asdict(self.output),
            }
        return row


def _pin_threads(threads: int) -> None:
    import polars as pl
    import pyarrow as pa

    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
    if pl.thread_pool_size() != threads:
        msg = (
            f"polars runs {pl.thread_pool_size()} threads, expected {threads}: "
            "POLARS_MAX_THREADS must be set before polars is imported"
        )
        raise RuntimeError(msg)


def _time_cases(cases: list[Case], runs: int, threads: int) -> list[dict[str, Any]]:
    for case in cases:
        case.run(timed=False)  # warm-up: imports, caches, first-touch page faults
    live = [c for c in cases if c.error is None]
    for r in range(runs):
        # Rotating the order keeps any candidate from always running right after a heavy one.
        shift = r % len(live) if live else 0
        for case in live[shift:] + live[:shift]:
            case.run(timed=True)
    return [c.summary(threads) for c in cases]


def _codec_comparison(path: str, runs: int) -> list[dict[str, Any]]:
    """Write our silver table of `path` with each codec, interleaved; median time and size."""
    import io
    from pathlib import Path

    import pyarrow.parquet as pq

    from bench.ours import CONTRACT, INGESTED_AT, SOURCE_KEY, SOURCE_VERSION
    from lambda_bridge.parse import parse_object
    from lambda_bridge.silver import parquet_options, with_lineage

    result = parse_object(Path(path).read_bytes(), CONTRACT, "jsonl")
    table = with_lineage(result, CONTRACT, SOURCE_KEY, SOURCE_VERSION, INGESTED_AT)
    seconds: dict[tuple[str, int | None], list[float]] = {codec: [] for codec in CODECS}
    sizes: dict[tuple[str, int | None], int] = {}
    for r in range(runs + 1):  # the first round is the warm-up
        for codec, level in CODECS:
            sink = io.BytesIO()
            gc.collect()
            start = time.perf_counter()
            options = parquet_options(table.column_names, CONTRACT)
            options |= {"compression": codec, "compression_level": level}
            pq.write_table(table, sink, **options)
            if r:
                seconds[(codec, level)].append(time.perf_counter() - start)
            sizes[(codec, level)] = sink.tell()
    return [
        {
            "codec": codec,
            "level": level,
            "median_s": median(seconds[(codec, level)]),
            "bytes": sizes[(codec, level)],
        }
        for codec, level in CODECS
    ]


def measure(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry: time every candidate of every size at `payload["threads"]` threads."""
    threads = payload["threads"]
    _pin_threads(threads)
    from pathlib import Path

    from bench.baselines import floor, pandas_path, per_record
    from bench.ours import ours

    functions = {"ours": ours, "floor": floor, "per_record": per_record, "pandas": pandas_path}
    rows: list[dict[str, Any]] = []
    for size in payload["sizes"]:
        clean = Path(size["clean"]).read_bytes()
        bad = Path(size["bad"]).read_bytes()
        plan = [("ours", "clean"), ("ours", "bad"), ("floor", "clean")]
        if size["slow_baselines"]:
            plan += [
                ("per_record", "clean"),
                ("per_record", "bad"),
                ("pandas", "clean"),
                ("pandas", "bad"),
            ]
        cases = [
            Case(
                size["label"],
                file,
                name,
                size["records"],
                clean if file == "clean" else bad,
                functions[name],
            )
            for name, file in plan
        ]
        rows += _time_cases(cases, payload["runs"], threads)
        print(f"  [{threads} thread(s)] {size['label']}: done", flush=True)
    codecs = (
        _codec_comparison(payload["codecs_file"], payload["runs"])
        if payload.get("codecs_file")
        else []
    )
    large = payload["sizes"][-1]
    timed_stages = stages.measure(
        Path(large["clean"]).read_bytes(), Path(large["bad"]).read_bytes(), payload["runs"]
    )
    print(f"  [{threads} thread(s)] stages: done", flush=True)
    return {"cases": rows, "codecs": codecs, "stages": timed_stages, "pid": os.getpid()}


# -- main side -------------------------------------------------------------------------------


def collect(sizes: list[dict[str, Any]], runs: int) -> list[dict[str, Any]]:
    """Run one worker per thread count; return every case and the codec comparison."""
    answers = []
    for threads in THREAD_COUNTS:
        payload = {
            "threads": threads,
            "runs": runs,
            "sizes": sizes,
            # The codec what-if is single-threaded information; measuring it once is enough.
            "codecs_file": sizes[-1]["clean"] if threads == 1 else None,
        }
        env = {"POLARS_MAX_THREADS": str(threads)}
        answers.append(run_worker("throughput", payload, env=env))
    return answers


def _name(case: dict[str, Any]) -> str:
    return f"{case['candidate']} {case['file']} {case['size']} {case['threads']}t"


def figures(answers: list[dict[str, Any]]) -> list[Figure]:
    out: list[Figure] = []
    cases = [c for a in answers for c in a["cases"]]
    for case in cases:
        floor = next(
            c
            for c in cases
            if c["candidate"] == "floor"
            and c["size"] == case["size"]
            and c["threads"] == case["threads"]
        )
        is_floor = case is floor
        target = None
        if case["candidate"] == "ours":
            target = at_least(TARGET_CLEAN if case["file"] == "clean" else TARGET_BAD)
        baseline = None if is_floor else _name(floor)
        for unit, key in (("MB/s", "mb_s"), ("rows/s", "rows_s")):
            out.append(
                Figure(
                    section="throughput",
                    name=_name(case),
                    value=case.get(key),
                    unit=unit,
                    baseline=baseline,
                    baseline_value=None if is_floor else floor.get(key),
                    target=target if unit == "MB/s" else None,
                    note=f"fails: {case['error']}" if case["error"] else "",
                )
            )
    for case in cases:
        if case["candidate"] != "ours" or case["file"] != "clean":
            continue
        per_record = next(
            (
                c
                for c in cases
                if c["candidate"] == "per_record"
                and c["file"] == "clean"
                and c["size"] == case["size"]
                and c["threads"] == case["threads"]
            ),
            None,
        )
        if per_record is not None and per_record.get("mb_s"):
            out.append(
                Figure(
                    section="throughput",
                    name=f"speed-up ours vs per-record clean {case['size']} {case['threads']}t",
                    value=case["mb_s"],
                    unit="MB/s",
                    baseline=f"per_record clean {case['size']} {case['threads']}t",
                    baseline_value=per_record["mb_s"],
                )
            )
    return out


def _cases_table(cases: list[dict[str, Any]], figs: list[Figure]) -> str:
    by_name = {f.name: f for f in figs if f.unit == "MB/s"}
    lines = [
        "| Size | File | Candidate | MB/s | rows/s | vs floor | Target | Met | Parquet bytes | Quarantined |",
        "|---|---|---|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for case in cases:
        fig = by_name[_name(case)]
        label = LABELS[case["candidate"]]
        if case["error"]:
            lines.append(
                f"| {case['size']} | {case['file']} | {label} | fails: `{case['error']}` "
                "| | | | | | |"
            )
            continue
        ratio = "1 (baseline)" if case["candidate"] == "floor" else number(fig.ratio)
        met = "" if fig.ok is None else ("yes" if fig.ok else "**no**")
        quarantined = (
            "" if case.get("rows_quarantined") is None else f"{case['rows_quarantined']:,}"
        )
        lines.append(
            f"| {case['size']} | {case['file']} | {label} | {number(case['mb_s'])} "
            f"| {case['rows_s']:,.0f} | {ratio} | {fig.target or ''} | {met} "
            f"| {case['parquet_bytes']:,} | {quarantined} |"
        )
    return "\n".join(lines)


def section(answers: list[dict[str, Any]], sizes: list[dict[str, Any]], runs: int) -> Section:
    from lambda_bridge.silver import PARQUET_COMPRESSION, PARQUET_COMPRESSION_LEVEL

    figs = figures(answers)
    parts = [
        f"Bronze MB/s (10^6 bytes) and bronze rows/s, median of {runs} runs after one warm-up,"
        " candidates interleaved run by run in one process per thread count (pyarrow pinned with"
        " `set_cpu_count`/`set_io_thread_count`, polars with `POLARS_MAX_THREADS`)."
        f" Targets: ours ≥ {TARGET_CLEAN}× the floor on the clean file and ≥ {TARGET_BAD}× the"
        " (clean-file) floor on the file with 1% bad lines of mixed kinds.",
        "",
        "- **ours**: `parse_object` → `with_lineage` → `to_parquet` (+ `quarantine_parts` when"
        " lines are bad), i.e. everything `process_object` does except S3 calls; validation,"
        " casting to the contract's types and quarantine on.",
        "- **floor**: polars `read_ndjson` + `write_parquet` of the clean file, no validation"
        " (timestamps stay strings); it fails the whole object on one bad line.",
        "- **per-record**: `json.loads` per line + `pyarrow.Table.from_pylist` + `pq.write_table`.",
        "- **pandas**: `pandas.read_json(lines=True)` + `DataFrame.to_parquet` (AWS SDK for pandas).",
        "",
        f"Every candidate writes Parquet with **{PARQUET_COMPRESSION} level"
        f" {PARQUET_COMPRESSION_LEVEL}** (`lambda_bridge.silver`), so they differ in reading,"
        " checking and converting only. Files:"
        + "; ".join(
            f" {s['label']}: {s['records']:,} records, {s['clean_bytes'] / MB:.1f} MB clean /"
            f" {s['bad_bytes'] / MB:.1f} MB with 1% bad"
            for s in sizes
        )
        + ".",
        "",
        "Our Parquet is larger than the floor's because it carries more: the four lineage"
        " columns (`_source_key`, `_source_version`, `_line`, `_ingested_at`) and a typed"
        " timestamp where the floor keeps the string.",
        "",
    ]
    slow_skipped = [s["label"] for s in sizes if not s["slow_baselines"]]
    if slow_skipped:
        parts += [
            f"The per-record and pandas baselines run on the {sizes[0]['label']} file only: at"
            " ~15 MB/s, five runs of each on the larger file at both thread counts would take"
            " most of the time budget, and their cost per MB does not depend on the file size."
            " `python -m bench.run --slow-baselines-everywhere` runs them on every size.",
            "",
        ]
    cases = [c for a in answers for c in a["cases"]]
    for threads, answer in zip(THREAD_COUNTS, answers, strict=True):
        parts += [
            f"### {threads} thread{'s' if threads > 1 else ''}",
            "",
            _cases_table([c for c in cases if c["threads"] == threads], figs),
            "",
            stages.table(answer["stages"], sizes[-1]["label"], threads),
            "",
        ]
        figs += stages.figures(answer["stages"], sizes[-1]["label"], threads)
    codecs = next((a["codecs"] for a in answers if a["codecs"]), [])
    if codecs:
        reference = next(
            c
            for c in codecs
            if (c["codec"], c["level"]) == (PARQUET_COMPRESSION, PARQUET_COMPRESSION_LEVEL)
        )
        parts += [
            "### Compression choice",
            "",
            f"Our silver table of the {sizes[-1]['label']} clean file written with each codec"
            f" (1 thread, median of {runs} runs), against the current choice:",
            "",
            "| Codec | Write s | Parquet bytes | Time vs current | Size vs current |",
            "|---|---:|---:|---:|---:|",
        ]
        for c in codecs:
            name = c["codec"] + (f" level {c['level']}" if c["level"] is not None else "")
            current = " (current)" if c is reference else ""
            parts.append(
                f"| {name}{current} | {number(c['median_s'])} | {c['bytes']:,} "
                f"| {number(c['median_s'] / reference['median_s'])} "
                f"| {number(c['bytes'] / reference['bytes'])} |"
            )
        parts.append("")
        for c in codecs:
            name = c["codec"] + (f"-{c['level']}" if c["level"] is not None else "")
            figs.append(
                Figure(
                    section="throughput",
                    name=f"parquet write {name} {sizes[-1]['label']} silver table 1t",
                    value=c["median_s"],
                    unit="s",
                    baseline=f"parquet write {PARQUET_COMPRESSION}-{PARQUET_COMPRESSION_LEVEL}",
                    baseline_value=reference["median_s"],
                )
            )
            figs.append(
                Figure(
                    section="throughput",
                    name=f"parquet size {name} {sizes[-1]['label']} silver table",
                    value=c["bytes"],
                    unit="bytes",
                    baseline=f"parquet size {PARQUET_COMPRESSION}-{PARQUET_COMPRESSION_LEVEL}",
                    baseline_value=reference["bytes"],
                )
            )
    return Section(1, "Transform throughput", figs, "\n".join(parts))
