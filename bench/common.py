"""Shared pieces of the benchmark: paths, the result row, medians and worker subprocesses."""

import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "bench" / "data"
RESULTS_JSON = REPO / "bench" / "results.json"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
MB = 1_000_000  # throughput is in decimal MB/s of bronze bytes
MIB = 1024 * 1024  # memory is in MiB, the unit Lambda's "MB" memory setting really means
SERVER_START_S = 30


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


def peak_mib() -> float:
    """This process's peak RSS so far: the kernel's VmHWM, the counter `ru_maxrss` is made from.

    Not `ru_maxrss` itself: Linux carries a parent's peak into the child across fork and exec,
    so a worker started by a parent that has held the silver partition would report the
    parent's peak instead of its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MIB  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB  # Linux: KiB


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in a process of its own on a free loopback port; its URL."""
    from elt_assets.cli.local.postgres import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    msg = f"the moto server on port {port} did not start"
                    raise RuntimeError(msg) from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
