"""The landings sensor: what the Lambdas wrote becomes runless materializations, plus a check run.

New manifests arrive as S3 notifications on the landings queue, so a tick does work in
proportion to what landed since the last tick, never to what the bucket holds.
"""

import json
from collections import defaultdict
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from elt_assets.defs.datasets.assets import bronze_key, silver_key
from elt_assets.defs.datasets.checks import CHECK_NAMES
from elt_assets.defs.resources import PipelineResource, SQSResource
from elt_assets.lib.queues import delete_messages
from lambda_bridge.keys import decode_event_key
from lambda_bridge.process import WRITER_REPLAY
from lambda_bridge.storage import read_json

MAX_RECEIVES_PER_TICK = 20  # at most 200 landings a tick; the rest wait for the next tick
# Long enough for the daemon to persist this tick and start the next one, which deletes them.
VISIBILITY_SECONDS = 120


def check_keys(dataset: str) -> list[dg.AssetCheckKey]:
    return [dg.AssetCheckKey(silver_key(dataset), name) for name in CHECK_NAMES]


def build_landings_sensor(checks_job: Any) -> dg.SensorDefinition:
    @dg.sensor(
        name="landings",
        job=checks_job,
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Reports the bronze and silver partitions the Lambdas wrote (runless materializations, "
            "from the manifests) and runs the silver checks for those partitions."
        ),
    )
    def landings(
        context: dg.SensorEvaluationContext,
        pipeline: PipelineResource,
        sqs: SQSResource,
        s3: S3Resource,
    ):
        url = sqs.landings_url()
        if not url:
            return dg.SkipReason("ELT_LANDINGS_QUEUE_URL is not set: no landings to watch")
        client, s3_client = sqs.get_client(), s3.get_client()
        cursor = json.loads(context.cursor) if context.cursor else {}
        cursor.setdefault("landings", 0)
        # The previous tick's messages go only now: its cursor, and so its materializations and
        # run requests, are stored. A tick that died before that leaves them on the queue, to be
        # received again once their visibility runs out.
        delete_messages(client, url, cursor.pop("received", []))
        messages = []
        for _ in range(MAX_RECEIVES_PER_TICK):
            got = client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=VISIBILITY_SECONDS
            ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        registry = pipeline.registry()
        events: list[dg.AssetMaterialization] = []
        partitions: dict[str, set[str]] = defaultdict(set)
        for message in messages:
            for record in json.loads(message["Body"]).get("Records", []):
                key = decode_event_key(record["s3"]["object"]["key"])
                manifest = read_json(s3_client, pipeline.silver_bucket, key)
                if manifest is None:
                    continue  # removed since (a replay dropped an orphan): nothing landed
                if manifest.get("writer") == WRITER_REPLAY:
                    continue  # the replay's own run reported it, with the partition's totals
                dataset, day = manifest["dataset"], manifest["dt"]
                if dataset not in registry:
                    continue
                source = manifest["source"]
                events.append(dg.AssetMaterialization(
                    asset_key=bronze_key(dataset), partition=day,
                    metadata={"source_key": source["key"], "bytes": source["size"]},
                ))  # fmt: skip
                events.append(dg.AssetMaterialization(
                    asset_key=silver_key(dataset), partition=day,
                    metadata={
                        "source_key": source["key"], "lines_in": manifest["lines_in"],
                        "rows_out": manifest["rows_out"], "rows_quarantined": manifest["rows_quarantined"],
                        "manifest": dg.MetadataValue.path(f"s3://{pipeline.silver_bucket}/{key}"),
                    },
                ))  # fmt: skip
                partitions[dataset].add(day)
        cursor["landings"] += len(events) // 2
        cursor["received"] = [m["ReceiptHandle"] for m in messages]
        by_day: dict[str, set[str]] = defaultdict(set)
        for dataset, days in partitions.items():
            for day in days:
                by_day[day].add(dataset)
        run_requests = [
            # One run per day, not per partition: each run starts a process and loads the code
            # location, and what lands in one tick is mostly one day of several datasets. The
            # partition goes in as a tag: Dagster 1.13 cannot resolve `partition_key` for a run
            # of checks alone (no asset in it carries the partitions definition).
            dg.RunRequest(
                run_key=f"checks:{day}:{cursor['landings']}",
                asset_check_keys=[key for d in sorted(datasets) for key in check_keys(d)],
                tags={"dagster/partition": day, "elt/trigger": "landings"},
            )
            for day, datasets in sorted(by_day.items())
        ]
        if not events and not run_requests:
            return dg.SensorResult(skip_reason="nothing landed", cursor=json.dumps(cursor))
        return dg.SensorResult(
            asset_events=events, run_requests=run_requests, cursor=json.dumps(cursor)
        )

    return landings
