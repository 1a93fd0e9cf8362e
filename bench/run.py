"""Run the benchmarks; write bench/results.json and BENCHMARKS.md.

    python -m bench.run            # full: ~10 MB and ~200 MB files, 50 latency samples
    python -m bench.run --quick    # the same tables on ~2 MB and ~20 MB files, 20 samples

Never fails on a slow result: a ratio below its target prints a WARNING line.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import chunks, dagster, gold, latency, memory, package, queue_economy, throughput
from bench.common import BENCHMARKS_MD, MB, RESULTS_JSON, run_worker
from bench.data import BAD_RATIO, bronze_file
from bench.report import Section, warnings, write_markdown, write_results

MODES: dict[str, dict[str, int]] = {
    # ~185 bytes a record: 11k ≈ 2 MB, 55k ≈ 10 MB, 110k ≈ 20 MB, 1.1M ≈ 200 MB.
    "quick": {"small": 11_000, "large": 110_000, "latency_objects": 20},
    "full": {"small": 55_000, "large": 1_100_000, "latency_objects": 50},
}
SECTIONS = ("throughput", "memory", "package", "latency", "queue", "dagster", "gold", "chunks")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="the same tables on small data (a few minutes)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (default 5)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--slow-baselines-everywhere",
        action="store_true",
        help="also time the per-record and pandas baselines on the large file (slow)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def _sizes(mode: dict[str, int], slow_everywhere: bool) -> list[dict[str, Any]]:
    """Both file sizes, clean and with bad lines, generated (or taken from the cache)."""
    sizes = []
    for which in ("small", "large"):
        records = mode[which]
        clean, bad = bronze_file(records, 0.0), bronze_file(records, BAD_RATIO)
        clean_bytes = clean.stat().st_size
        sizes.append(
            {
                "label": f"{clean_bytes / MB:.0f} MB",
                "records": records,
                "clean": str(clean),
                "bad": str(bad),
                "clean_bytes": clean_bytes,
                "bad_bytes": bad.stat().st_size,
                # The slow baselines run at the small size only unless asked: see throughput.
                "slow_baselines": which == "small" or slow_everywhere,
            }
        )
    return sizes


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    wanted = args.sections.split(",")
    mode_name = "quick" if args.quick else "full"
    mode = MODES[mode_name]
    started = time.perf_counter()
    load_start = os.getloadavg()[0]

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f}s] {message}", flush=True)

    progress(f"{mode_name} mode: preparing data under bench/data/")
    sizes = _sizes(mode, args.slow_baselines_everywhere)
    sections: list[Section] = []
    if "throughput" in wanted:
        progress("1. transform throughput (one process per thread count)")
        answers = throughput.collect(sizes, args.runs)
        sections.append(throughput.section(answers, sizes, args.runs))
    if "memory" in wanted:
        progress(f"2. peak memory on the {sizes[-1]['label']} files (one process each)")
        all_bad = str(bronze_file(sizes[-1]["records"], 1.0))
        answers_rss = memory.collect(sizes[-1]["clean"], sizes[-1]["bad"], all_bad)
        sections.append(memory.section(answers_rss, sizes[-1]["label"]))
    if "package" in wanted:
        progress("4. Lambda package and cold import")
        sections.append(package.section(args.runs))
    measured = None
    if "latency" in wanted:
        progress(f"5. hot path latency over {mode['latency_objects']} objects (embedded stack)")
        measured = run_worker("latency", {"objects": mode["latency_objects"]})
        sections.append(latency.section(measured))
    if "queue" in wanted:
        sections.append(queue_economy.section(measured))
    if "dagster" in wanted:
        progress("6. Dagster: code-location load, sensor tick vs bucket size, replay")
        sections.append(dagster.section(args.runs, args.quick))
    if "gold" in wanted:
        progress("7. gold model vs bare polars on moto S3; warehouse load vs psql \\copy")
        sections.append(gold.section(args.runs, args.quick))
    if "chunks" in wanted:
        progress("8. large objects in chunks (one process each) and replays (embedded stack)")
        sections.append(chunks.section(args.runs, args.quick))
    sections.sort(key=lambda s: s.number)

    for line in warnings(f for s in sections for f in s.figures):
        print(line, flush=True)
    elapsed = time.perf_counter() - started
    command = " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])])
    write_results(sections)
    write_markdown(
        sections,
        command=command.strip(),
        mode=mode_name,
        elapsed_s=elapsed,
        load=(load_start, os.getloadavg()[0]),
    )
    progress(f"wrote {_relative(RESULTS_JSON)} and {_relative(BENCHMARKS_MD)}")


def _relative(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


if __name__ == "__main__":
    main()
