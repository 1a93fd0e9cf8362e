"""The 02:00 UTC quality gate schedule."""

import datetime as dt
from typing import Any

import dagster as dg


def yesterday(moment: dt.datetime) -> str:
    """The partition a 02:00 run reports on: the day that just ended (UTC)."""
    return (moment.astimezone(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


def build_schedule(gate: Any) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="daily_quality_gate",
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        job=gate,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="At 02:00 UTC: yesterday's checks and gold partitions; the report follows.",
    )
    def daily_quality_gate(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = yesterday(context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"quality_gate:{day}", partition_key=day)

    return daily_quality_gate
