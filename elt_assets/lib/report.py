"""The daily report: per dataset rows, quarantine by reason, check outcomes, queue depths.

Rendered as markdown (shown in the Dagster UI as metadata, stored beside the chart), as a PNG
chart, and as a JSON summary, all under `reports/<day>/` in the silver bucket.
"""

import base64
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from lambda_bridge.keys import report_prefix

MARKDOWN_NAME = "report.md"
CHART_NAME = "quarantine.png"
SUMMARY_NAME = "summary.json"


@dataclass
class DatasetDay:
    """One dataset's day, as the report shows it.

    Attributes:
        dataset: The dataset name.
        dt: The partition date, `YYYY-MM-DD`.
        objects: Bronze objects processed.
        lines_in: Records offered (see DESIGN §3).
        rows_out: Rows written to silver.
        rows_quarantined: Records quarantined.
        quarantine_by_code: Quarantined records per reason code.
        checks: One `{"name": str, "passed": bool, "description": str}` per check.
        silver_bytes: Size of the day's silver Parquet.
    """

    dataset: str
    dt: str
    objects: int = 0
    lines_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    quarantine_by_code: dict[str, int] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    silver_bytes: int = 0

    @property
    def quarantine_rate(self) -> float:
        """Quarantined share of the records offered (0 when nothing was offered)."""
        offered = self.lines_in or self.rows_out + self.rows_quarantined
        return self.rows_quarantined / offered if offered else 0.0

    @property
    def checks_failed(self) -> int:
        return sum(1 for c in self.checks if not c.get("passed"))

    @property
    def checks_passed(self) -> int:
        return len(self.checks) - self.checks_failed


def render_markdown(
    day: str,
    datasets: list[DatasetDay],
    dlq_depth: int,
    queue_depth: int,
    chart: str | None = None,
) -> str:
    """The report as markdown.

    Args:
        day: The report's date, `YYYY-MM-DD`.
        datasets: One entry per dataset.
        dlq_depth: Messages in the dead-letter queue.
        queue_depth: Messages waiting in the events queue.
        chart: The chart's image source, if any: its file name beside the report (in S3), or
            a `data:` URI (in the Dagster UI, which cannot reach the bucket).
    """
    failed = sum(d.checks_failed for d in datasets)
    status = "all checks passed" if not failed else f"**{failed} check(s) failed**"
    if dlq_depth:
        status += f", **{dlq_depth} message(s) in the DLQ**"
    lines = [
        f"# Daily pipeline report — {day}",
        "",
        f"{len(datasets)} dataset(s), {status}.",
        "",
        "## Datasets",
        "",
        "| Dataset | Objects | Lines in | Rows out | Quarantined | Rate | Checks passed"
        " | Checks failed | Silver size |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for d in sorted(datasets, key=lambda d: d.dataset):
        lines.append(
            f"| {_cell(d.dataset)} | {d.objects:,} | {d.lines_in:,} | {d.rows_out:,}"
            f" | {d.rows_quarantined:,} | {d.quarantine_rate:.2%} | {d.checks_passed}"
            f" | {d.checks_failed} | {_size(d.silver_bytes)} |"
        )
    if len(datasets) > 1:
        total = DatasetDay(
            dataset="total",
            dt=day,
            objects=sum(d.objects for d in datasets),
            lines_in=sum(d.lines_in for d in datasets),
            rows_out=sum(d.rows_out for d in datasets),
            rows_quarantined=sum(d.rows_quarantined for d in datasets),
            silver_bytes=sum(d.silver_bytes for d in datasets),
        )
        lines.append(
            f"| **total** | {total.objects:,} | {total.lines_in:,} | {total.rows_out:,}"
            f" | {total.rows_quarantined:,} | {total.quarantine_rate:.2%}"
            f" | {sum(d.checks_passed for d in datasets)} | {failed}"
            f" | {_size(total.silver_bytes)} |"
        )

    lines += ["", "## Quarantine by reason", ""]
    reasons = [
        (d.dataset, code, count)
        for d in datasets
        for code, count in d.quarantine_by_code.items()
        if count
    ]
    if reasons:
        lines += ["| Dataset | Reason | Records |", "| --- | --- | ---: |"]
        for dataset, code, count in sorted(reasons, key=lambda r: (-r[2], r[0], r[1])):
            lines.append(f"| {_cell(dataset)} | `{_cell(code)}` | {count:,} |")
    else:
        lines.append("Nothing was quarantined.")

    lines += ["", "## Checks", ""]
    checks = [(d.dataset, c) for d in datasets for c in d.checks]
    if checks:
        lines += ["| Outcome | Dataset | Check | Detail |", "| --- | --- | --- | --- |"]
        # Failures first: they are what the reader opens the report for.
        for dataset, check in sorted(checks, key=lambda dc: (bool(dc[1].get("passed")), dc[0])):
            # Words, not emoji marks: the UI's font may have no emoji.
            outcome = "passed" if check.get("passed") else "**FAILED**"
            lines.append(
                f"| {outcome} | {_cell(dataset)} | {_cell(str(check.get('name', '')))}"
                f" | {_cell(str(check.get('description', '')))} |"
            )
    else:
        lines.append("No checks ran.")

    lines += [
        "",
        "## Queues",
        "",
        f"- Events queue: {queue_depth:,} message(s) waiting",
        f"- Dead-letter queue: {dlq_depth:,} message(s)"
        + (
            " — run the `dlq_redrive` job (or `elt redrive`) after fixing the cause"
            if dlq_depth
            else ""
        ),
    ]
    if chart:
        lines += ["", f"![Rows out and quarantined per dataset]({chart})"]
    return "\n".join(lines) + "\n"


def render_chart(datasets: list[DatasetDay]) -> bytes:
    """A PNG bar chart of silver rows and quarantined records per dataset.

    Bars are grouped, not stacked, and labelled with their counts: quarantined counts are
    usually a few percent of the rows, too thin to read on top of a stacked bar.
    """
    # The object API with an explicit Agg canvas leaves pyplot's global backend and figure
    # registry alone, so this is safe in a Dagster process and in threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ordered = sorted(datasets, key=lambda d: d.dataset)
    names = [d.dataset for d in ordered]
    days = sorted({d.dt for d in ordered})
    fig = Figure(figsize=(max(6.0, 1.8 * len(ordered) + 2), 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    title = "Silver rows vs quarantined records"
    if len(days) == 1:
        title += f" — {days[0]}"
    ax.set_title(title)
    if not ordered:
        ax.text(0.5, 0.5, "no datasets", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        width = 0.38
        positions = range(len(ordered))
        out = ax.bar(
            [p - width / 2 for p in positions],
            [d.rows_out for d in ordered],
            width,
            label="rows out",
            color="#4C72B0",
        )
        bad = ax.bar(
            [p + width / 2 for p in positions],
            [d.rows_quarantined for d in ordered],
            width,
            label="quarantined",
            color="#DD5555",
        )
        ax.bar_label(out, labels=[f"{d.rows_out:,}" for d in ordered], padding=2, fontsize=9)
        ax.bar_label(
            bad,
            labels=[f"{d.rows_quarantined:,}\n({d.quarantine_rate:.1%})" for d in ordered],
            padding=2,
            fontsize=9,
        )
        ax.set_xticks(list(positions), names)
        ax.set_ylabel("records")
        ax.margins(y=0.18)
        ax.yaxis.set_major_formatter("{x:,.0f}")
        ax.spines[["top", "right"]].set_visible(False)
        # Below the plot: inside it can cover the tallest bar's label, above it the title.
        fig.legend(loc="outside lower center", ncols=2, frameon=False)
        # One or two datasets would otherwise get bars as wide as the whole figure.
        pad = max(0, 3 - len(ordered)) / 2
        ax.set_xlim(-0.75 - pad, len(ordered) - 0.25 + pad)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def summary(
    day: str, datasets: list[DatasetDay], dlq_depth: int, queue_depth: int
) -> dict[str, Any]:
    """The report's numbers as a JSON-serialisable dict."""
    return {
        "day": day,
        "queue_depth": queue_depth,
        "dlq_depth": dlq_depth,
        "checks_failed": sum(d.checks_failed for d in datasets),
        "datasets": [
            {**asdict(d), "quarantine_rate": d.quarantine_rate}
            for d in sorted(datasets, key=lambda d: d.dataset)
        ],
    }


def write_report(
    s3: Any,
    bucket: str,
    day: str,
    datasets: list[DatasetDay],
    dlq_depth: int,
    queue_depth: int,
    chart: bytes | None = None,
) -> dict[str, str]:
    """Render the report and upload it under `reports/<day>/` in `bucket`.

    Args:
        s3: A boto3 S3 client.
        bucket: The bucket (the silver bucket).
        day: The report's date, `YYYY-MM-DD`.
        datasets: One entry per dataset.
        dlq_depth: Messages in the dead-letter queue.
        queue_depth: Messages waiting in the events queue.
        chart: The chart PNG if the caller has rendered it already (`render_chart`).

    Returns:
        The keys written: `markdown`, `chart` and `summary`.

    Raises:
        ValueError: `day` is not a `YYYY-MM-DD` date.
    """
    try:
        dt.date.fromisoformat(day)
    except (TypeError, ValueError):
        msg = f"day must be a YYYY-MM-DD date, got {day!r}"
        raise ValueError(msg) from None
    prefix = report_prefix(day)
    keys = {
        "markdown": f"{prefix}{MARKDOWN_NAME}",
        "chart": f"{prefix}{CHART_NAME}",
        "summary": f"{prefix}{SUMMARY_NAME}",
    }
    bodies = {
        "markdown": (
            render_markdown(day, datasets, dlq_depth, queue_depth, CHART_NAME).encode(),
            "text/markdown; charset=utf-8",
        ),
        "chart": (chart if chart is not None else render_chart(datasets), "image/png"),
        "summary": (
            json.dumps(summary(day, datasets, dlq_depth, queue_depth), indent=2).encode(),
            "application/json",
        ),
    }
    for name, key in keys.items():
        body, content_type = bodies[name]
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return keys


def data_uri(png: bytes) -> str:
    """The PNG as a `data:` URI, for markdown shown where the bucket cannot be reached."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _cell(text: str) -> str:
    # A pipe or a newline inside a table cell would break the markdown table.
    return text.replace("|", "\\|").replace("\n", " ")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} B"
    size = n / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GiB"
