"""Downstream events (DESIGN §11): `partition_ready` when a partition passes its blocking
checks, and an alert when the quality gate fails, each on its SNS topic.

Consumers act on these (load a mart, refresh a dashboard), so a repeat must not look like news:
a partition's event is published when what it describes changed since the last one (its files,
their versions and row counts), never twice for the same state, whichever run checked it again.
The last published state is kept in the silver bucket beside the partition's manifests.

Only boto3: Dagster code calls it, and nothing here imports Dagster.
"""

import hashlib
import json
from typing import Any

from lambda_bridge.storage import read_json

EVENT_VERSION = 1
PARTITION_READY = "partition_ready"
GATE_FAILED = "quality_gate_failed"


def events_state_key(dataset: str, day: str) -> str:
    """Where the last published `partition_ready` of a partition is recorded."""
    return f"_events/{dataset}/dt={day}/partition_ready.json"


def alert_state_key(run_id: str) -> str:
    """Where an alert for a failed gate run is recorded, so a retried tick sends it once."""
    return f"_events/alerts/{run_id}.json"


def partition_ready_event(
    dataset: str,
    day: str,
    manifests: list[dict[str, Any]],
    checks: dict[str, bool],
    run_id: str,
    silver_bucket: str,
) -> dict[str, Any]:
    """The event: what is ready (rows, objects, the silver files), and the checks it passed."""
    keys = sorted(m["silver_key"] for m in manifests if m.get("silver_key"))
    return {
        "v": EVENT_VERSION,
        "event": PARTITION_READY,
        "dataset": dataset,
        "dt": day,
        "rows": sum(m["rows_out"] for m in manifests),
        "rows_quarantined": sum(m["rows_quarantined"] for m in manifests),
        "objects": len({m["source"]["key"] for m in manifests}),
        "silver_keys": [f"s3://{silver_bucket}/{k}" for k in keys],
        "checks": dict(sorted(checks.items())),
        "run_id": run_id,
    }


def _state(manifests: list[dict[str, Any]]) -> str:
    """What a consumer would see: each file with the source version and rows it came from."""
    parts = sorted(
        (
            m["source"]["key"],
            str(m["source"].get("version_id") or m["source"].get("etag") or ""),
            str((m.get("chunk") or {}).get("index", "")),
            m.get("silver_key") or "",
            m["rows_out"],
        )
        for m in manifests
    )
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def publish_partition_ready(
    sns: Any,
    s3: Any,
    topic_arn: str,
    silver_bucket: str,
    event: dict[str, Any],
    manifests: list[dict[str, Any]],
) -> bool:
    """Publish `event` unless the partition's state is the one last published; True if sent.

    The state is recorded after the publish: a crash between the two sends the event again on
    the next check run (at least once), never silently drops it.
    """
    key = events_state_key(event["dataset"], event["dt"])
    state = _state(manifests)
    previous = read_json(s3, silver_bucket, key)
    if previous is not None and previous.get("state") == state:
        return False
    sns.publish(
        TopicArn=topic_arn,
        Subject=f"{event['dataset']} dt={event['dt']} is ready"[:100],
        Message=json.dumps(event),
        MessageAttributes={
            "event": {"DataType": "String", "StringValue": PARTITION_READY},
            "dataset": {"DataType": "String", "StringValue": event["dataset"]},
            "dt": {"DataType": "String", "StringValue": event["dt"]},
        },
    )
    record = {"state": state, "run_id": event["run_id"], "rows": event["rows"]}
    s3.put_object(Bucket=silver_bucket, Key=key, Body=json.dumps(record).encode())
    return True


def publish_gate_alert(
    sns: Any,
    s3: Any,
    topic_arn: str,
    silver_bucket: str,
    day: str,
    run_id: str,
    failures: list[dict[str, str]],
    url: str | None = None,
) -> bool:
    """An alert that the gate run `run_id` for `day` failed, naming what failed; once per run."""
    key = alert_state_key(run_id)
    if read_json(s3, silver_bucket, key) is not None:
        return False
    alert = {
        "v": EVENT_VERSION,
        "event": GATE_FAILED,
        "dt": day,
        "run_id": run_id,
        "failed": failures,
        **({"url": url} if url else {}),
    }
    what = "; ".join(f"{f['dataset']} {f['check']}" for f in failures) or "the run failed"
    sns.publish(
        TopicArn=topic_arn,
        Subject=f"ELT quality gate failed for {day}"[:100],
        Message=json.dumps(alert),
        MessageAttributes={"event": {"DataType": "String", "StringValue": GATE_FAILED}},
    )
    s3.put_object(Bucket=silver_bucket, Key=key, Body=json.dumps({"failed": what}).encode())
    return True
