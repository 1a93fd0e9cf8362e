"""Section 2: peak memory (RSS) of one transform of the large file, and the Lambda size it implies.

ru_maxrss only ever grows, so every measurement is its own fresh process: it loads what the
candidate needs, reads the file, notes the peak so far, transforms once and notes the peak.
"""

import math
from typing import Any

from bench.common import MIB, Figure, peak_mib, run_worker
from bench.report import Section, figure_table, number

HEADROOM = 1.3
LAMBDA_STEP_MB = 128  # Lambda takes any size in 1 MB steps; 128 MB steps keep the advice round
LAMBDA_MIN_MB, LAMBDA_MAX_MB = 128, 10_240
ONE_VCPU_MB = 1_769  # Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB


# -- worker side -----------------------------------------------------------------------------


def measure(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry: peak RSS before and after one transform of `payload["path"]`."""
    from pathlib import Path

    if payload["candidate"] == "ours":
        # The handler module, so the peak includes what a warm transform Lambda has loaded.
        import lambda_bridge.transform  # noqa: F401
        from bench.ours import ours as transform
    else:
        from bench.baselines import floor as transform
    data = Path(payload["path"]).read_bytes()
    before = peak_mib()
    output = transform(data)
    return {
        "before_mib": before,
        "peak_mib": peak_mib(),
        "rows_out": output.rows_out,
        "bytes_in": len(data),
    }


# -- main side -------------------------------------------------------------------------------


def lambda_memory_mb(peak_mib: float) -> int:
    """The Lambda memory setting for a peak RSS: with headroom, rounded up to a step."""
    wanted = math.ceil(peak_mib * HEADROOM / LAMBDA_STEP_MB) * LAMBDA_STEP_MB
    return max(LAMBDA_MIN_MB, min(LAMBDA_MAX_MB, wanted))


# Our candidates: answer key, file label in figure names, row label in the table.
OURS = (
    ("ours_clean", "clean", "ours, clean"),
    ("ours_bad", "bad", "ours, 1% bad"),
    ("ours_all_bad", "all bad", "ours, every line bad"),
)


def collect(clean: str, bad: str, all_bad: str) -> dict[str, dict[str, Any]]:
    return {
        "floor": run_worker("rss", {"candidate": "floor", "path": clean}),
        "ours_clean": run_worker("rss", {"candidate": "ours", "path": clean}),
        "ours_bad": run_worker("rss", {"candidate": "ours", "path": bad}),
        # A poison file (a producer changed a field): the quarantine holds every line.
        "ours_all_bad": run_worker("rss", {"candidate": "ours", "path": all_bad}),
    }


def section(answers: dict[str, dict[str, Any]], label: str) -> Section:
    # Here, not at the top: a worker measuring the floor must not load boto3 and pyarrow for it.
    from lambda_bridge.quarantine import QUARANTINE_PART_BYTES, QUARANTINE_PARTS_IN_FLIGHT

    floor = answers["floor"]
    figs: list[Figure] = []
    for key, file, _ in OURS:
        ours = answers[key]
        figs.append(
            Figure(
                section="memory",
                name=f"peak RSS ours {file} {label}",
                value=ours["peak_mib"],
                unit="MiB",
                baseline=f"peak RSS floor clean {label}",
                baseline_value=floor["peak_mib"],
            )
        )
        figs.append(
            Figure(
                section="memory",
                name=f"transform's own RSS ours {file} {label} (peak minus after reading)",
                value=ours["peak_mib"] - ours["before_mib"],
                unit="MiB",
                baseline=f"floor's own RSS clean {label}",
                baseline_value=floor["peak_mib"] - floor["before_mib"],
            )
        )
    worst_key, _, worst_row = max(OURS, key=lambda o: answers[o[0]]["peak_mib"])
    worst = answers[worst_key]["peak_mib"]
    worst_what = f"{worst_row}, {answers[worst_key]['bytes_in'] / MIB:,.0f} MiB"
    setting = lambda_memory_mb(worst)
    figs.append(
        Figure(
            section="memory",
            name=f"Lambda memory for the {label} files (worst peak x {HEADROOM}, {LAMBDA_STEP_MB} MB steps)",
            value=setting,
            unit="MB",
            note=f"from a worst peak of {worst:,.0f} MiB ({worst_what})",
        )
    )
    body = "\n".join(
        [
            f"Peak RSS (`ru_maxrss`) of one transform of the {label} file, each in a fresh"
            " process, against the floor's on the clean file. Our process first imports"
            " `lambda_bridge.transform` (the handler module: boto3, Powertools), as the Lambda"
            ' has; the floor\'s imports polars and pyarrow. "Own" is the peak minus the peak'
            " after imports and reading the file, i.e. what the transform itself adds. Threads:"
            " the machine's default. The every-line-bad file holds the same records, each spoiled"
            " one of the six ways of the 1% file (so it is smaller). Its quarantine file is ~3x its"
            " size (each record carries the raw line, the reason and the lineage); it is encoded"
            " and uploaded in parts (`quarantine_parts`, an S3 multipart upload holding up to"
            f" {QUARANTINE_PARTS_IN_FLIGHT} parts of {QUARANTINE_PART_BYTES / MIB:.0f} MiB), so"
            " here each part is dropped once encoded and the upload's parts in flight, at most"
            f" {QUARANTINE_PARTS_IN_FLIGHT * QUARANTINE_PART_BYTES / MIB:.0f} MiB, are not"
            " counted. What remains is one Python object per bad line (its raw text and reason).",
            "",
            "| Process | Object | RSS after imports + reading | Peak RSS | Own | Own / object |",
            "|---|---:|---:|---:|---:|---:|",
            *(
                f"| {name} | {a['bytes_in'] / MIB:,.0f} MiB | {number(a['before_mib'])} MiB"
                f" | {number(a['peak_mib'])} MiB | {number(a['peak_mib'] - a['before_mib'])} MiB"
                f" | {(a['peak_mib'] - a['before_mib']) / (a['bytes_in'] / MIB):.1f} |"
                for name, a in (
                    ("floor, clean", floor),
                    *((row, answers[key]) for key, _, row in OURS),
                )
            ),
            "",
            figure_note(worst, setting, worst_what),
            "",
        ]
    )
    return Section(2, "Peak memory", figs, figure_table(figs) + "\n\n" + body)


def figure_note(worst: float, setting: int, what: str) -> str:
    cpu = (
        "at least one full vCPU"
        if setting >= ONE_VCPU_MB
        else f"{setting / ONE_VCPU_MB:.2f} of a vCPU (the 1-thread figures of section 1 apply)"
    )
    return (
        f"**Implied Lambda memory:** the worst peak, {worst:,.0f} MiB ({what}), × {HEADROOM} headroom,"
        f" rounded up to {LAMBDA_STEP_MB} MB: **{setting:,} MB**, which"
        f" buys {cpu}. Lambda's CPU share grows with memory (one vCPU at {ONE_VCPU_MB:,} MB), so"
        " a larger setting can also be the cheaper one for large objects."
    )
