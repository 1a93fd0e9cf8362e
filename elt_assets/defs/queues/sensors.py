"""The queue depth sensor and the automatic DLQ redrive sensor."""

import json
import time
from typing import Any

import dagster as dg

from elt_assets.defs.queues.assets import DLQ, EVENTS_QUEUE
from elt_assets.defs.queues.jobs import dlq_redrive
from elt_assets.defs.resources import CloudWatchResource, SQSResource

REDRIVE_BACKOFF_SECONDS = (300, 6 * 3600)  # first wait, longest wait between automatic redrives


def _depths(client: Any, url: str) -> dict[str, int]:
    from elt_assets.lib.queues import queue_depths

    return queue_depths(client, url)


def _oldest_age_seconds(cloudwatch: Any, url: str) -> float | None:
    """SQS only tells the oldest message's age through CloudWatch (absent on moto)."""
    import datetime as dt

    from botocore.exceptions import BotoCoreError, ClientError

    now = dt.datetime.now(dt.UTC)
    try:
        stats = cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": url.rstrip("/").rsplit("/", 1)[-1]}],
            StartTime=now - dt.timedelta(minutes=10),
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )
    except (BotoCoreError, ClientError):  # no CloudWatch, or no permission: the age is not reported
        return None
    points = sorted(stats.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return float(points[-1]["Maximum"]) if points else None


@dg.sensor(
    name="queue_depth",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Observes the events queue and the DLQ every tick: visible, in flight, delayed, oldest age.",
)
def queue_depth(
    context: dg.SensorEvaluationContext, sqs: SQSResource, cloudwatch: CloudWatchResource
) -> dg.SensorResult:
    client, metrics = sqs.get_client(), cloudwatch.get_client()
    events = []
    for key, url in ((EVENTS_QUEUE, sqs.queue_url), (DLQ, sqs.dlq_url)):
        metadata: dict[str, Any] = dict(_depths(client, url))
        age = _oldest_age_seconds(metrics, url)
        if age is not None:
            metadata["oldest_age_seconds"] = age
        events.append(dg.AssetObservation(asset_key=key, metadata=metadata))
    return dg.SensorResult(asset_events=events)


@dg.sensor(
    name="dlq_auto_redrive",
    job=dlq_redrive,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests dlq_redrive when the DLQ holds messages, backing off (5 min doubling to 6 h) while "
        "it keeps refilling. Turn this sensor off to turn automatic redrive off."
    ),
)
def dlq_auto_redrive(context: dg.SensorEvaluationContext, sqs: SQSResource) -> dg.SensorResult:
    state = json.loads(context.cursor) if context.cursor else {}
    visible = _depths(sqs.get_client(), sqs.dlq_url)["visible"]
    now = time.time()
    if visible == 0:
        return dg.SensorResult(skip_reason="the DLQ is empty", cursor=json.dumps({}))
    if now < state.get("next_at", 0):
        return dg.SensorResult(
            skip_reason=f"{visible} in the DLQ; backing off until {state['next_at']:.0f}",
            cursor=context.cursor,
        )
    backoff = state.get("backoff", REDRIVE_BACKOFF_SECONDS[0])
    state = {"next_at": now + backoff, "backoff": min(backoff * 2, REDRIVE_BACKOFF_SECONDS[1])}
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"redrive:{int(now)}", tags={"elt/dlq_visible": str(visible)})
        ],
        cursor=json.dumps(state),
    )
