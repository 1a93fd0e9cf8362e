"""Shared pieces of the benchmark: paths, the result row, medians and worker subprocesses."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "bench" / "data"
RESULTS_JSON = REPO / "bench" / "results.json"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
MB = 1_000_000  # throughput is in decimal MB/s of bronze bytes
MIB = 1024 * 1024  # memory is in MiB, the unit Lambda's "MB" memory setting really means


@dataclass
class Figure:
    """One benchmark figure and how it compares with its baseline.

    Attributes:
        section: Section key (`throughput`, `memory`, `queue`, `package`, `latency`).
        name: What was measured, specific enough to stand alone in results.json.
        value: The figure; None when the candidate could not be measured (see `note`).
        unit: Unit of `value` and `baseline_value`.
        baseline: What the figure is compared with, or None.
        baseline_value: The baseline's figure, measured in the same run.
        ratio: value / baseline_value.
        target: The bound the ratio must meet, as `>= 0.80` or `<= 1.00`; None if none.
        ok: Whether the ratio meets the target; None when there is no target.
        note: Why a value is missing, or what the reader must know to read it.
    """

    section: str
    name: str
    value: float | None
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None
    target: str | None = None
    ok: bool | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None and self.value is not None and self.baseline_value:
            self.ratio = self.value / self.baseline_value
        if self.target is not None and self.ok is None and self.ratio is not None:
            self.ok = meets(self.ratio, self.target)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def at_least(bound: float) -> str:
    return f">= {bound:.2f}"


def at_most(bound: float) -> str:
    return f"<= {bound:.2f}"


def meets(ratio: float, target: str) -> bool:
    """Whether `ratio` satisfies a target written as `>= x` or `<= x`."""
    op, bound = target.split()
    return ratio >= float(bound) if op == ">=" else ratio <= float(bound)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def run_worker(
    command: str, payload: dict[str, Any], env: dict[str, str] | None = None, timeout: float = 900
) -> dict[str, Any]:
    """Run `python -m bench.worker <command>` in a fresh process and return its JSON answer.

    A fresh process per configuration is what makes thread counts and peak RSS trustworthy:
    polars fixes its thread pool at import, and ru_maxrss never goes down within a process.

    Raises:
        subprocess.CalledProcessError: The worker failed (its traceback is on stderr).
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "answer.json"
        cmd = [
            sys.executable,
            "-m",
            "bench.worker",
            command,
            "--payload",
            json.dumps(payload),
            "--out",
            str(out),
        ]
        subprocess.run(
            cmd, cwd=REPO, env={**os.environ, **(env or {})}, check=True, timeout=timeout
        )
        return json.loads(out.read_text())
