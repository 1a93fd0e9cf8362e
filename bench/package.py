"""Section 4: the Lambda packages' unzipped sizes and the handler modules' cold import time."""

import re
import subprocess
import sys
import time
import zipfile
from collections import defaultdict

from bench.common import MIB, REPO, Figure, at_most, median
from bench.report import Section, figure_table, number

HANDLERS = ("lambda_bridge.ingest", "lambda_bridge.transform")
ZIPS = {"ingest": REPO / "dist" / "ingest.zip", "transform": REPO / "dist" / "transform.zip"}
UNZIPPED_LIMIT_MIB = 250  # Lambda's limit on a function's unzipped code and layers
OFFENDERS = 8
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \| *(\S+)$")


def _run_python(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )


def cold_imports(runs: int) -> dict[str, list[float]]:
    """Wall seconds of fresh interpreters importing each handler, and of a bare `pass`.

    Interleaved run by run, so a burst of load on the machine hits every candidate alike.
    """
    statements = {"bare": "pass", **{module: f"import {module}" for module in HANDLERS}}
    seconds: dict[str, list[float]] = {name: [] for name in statements}
    for r in range(runs + 1):  # the first round warms the page cache
        for name, code in statements.items():
            start = time.perf_counter()
            _run_python(code)
            if r:
                seconds[name].append(time.perf_counter() - start)
    return seconds


def import_offenders(module: str, top: int = OFFENDERS) -> tuple[list[tuple[str, float]], float]:
    """Where `module`'s import time goes, by top-level package (`python -X importtime`).

    Each module's self time is charged to its top-level package, so a package's figure is what
    importing its own modules costs, not what the packages it imports cost.

    Returns:
        The `top` packages with their milliseconds, and the total of all packages.
    """
    stderr = _run_python(f"import {module}", "-X", "importtime").stderr
    by_package: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            by_package[match.group(2).split(".")[0]] += int(match.group(1)) / 1000
    ranked = sorted(by_package.items(), key=lambda item: -item[1])
    return ranked[:top], sum(by_package.values())


def unzipped_bytes(path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def section(runs: int) -> Section:
    figs: list[Figure] = []
    for name, path in ZIPS.items():
        if path.exists():
            figs.append(
                Figure("package", f"{name}.zip unzipped", unzipped_bytes(path) / MIB, "MiB",
                       "Lambda unzipped limit", UNZIPPED_LIMIT_MIB,
                       target=at_most(1.0), note=f"zipped {path.stat().st_size / MIB:.1f} MiB")
            )  # fmt: skip
        else:
            figs.append(
                Figure("package", f"{name}.zip unzipped", None, "MiB",
                       "Lambda unzipped limit", UNZIPPED_LIMIT_MIB,
                       note=f"not built: no {path.relative_to(REPO)}")
            )  # fmt: skip
    seconds = cold_imports(runs)
    bare = median(seconds["bare"])
    for module in HANDLERS:
        total = median(seconds[module])
        figs.append(
            Figure("package", f"cold import {module} (net of interpreter start)",
                   (total - bare) * 1000, "ms", "bare interpreter start (`python -c pass`)",
                   bare * 1000)
        )  # fmt: skip
    parts = [
        figure_table(figs),
        "",
        f'Cold import: median wall time of {runs} fresh `python -c "import <module>"`'
        f" processes (after one warm-up round), minus the median of as many `python -c pass`,"
        " interleaved. The ratio says how many bare interpreter starts the import costs. On"
        " Lambda the import is part of every cold start's init phase.",
        "",
    ]
    for module in HANDLERS:
        offenders, total = import_offenders(module)
        parts += [
            f"Where the import time of `{module}` goes (`python -X importtime`, one run, self"
            f" time of every module summed by top-level package; {number(total)} ms in all):",
            "",
            "| Package | ms | Share |",
            "|---|---:|---:|",
            *(f"| {package} | {number(ms)} | {ms / total:.0%} |" for package, ms in offenders),
            "",
        ]
    return Section(4, "Lambda package and cold import", figs, "\n".join(parts))
