"""The Dagster control plane against a real moto server: assets, checks, sensors, jobs, schedule."""

import base64
import datetime as dt
import json
import re
import subprocess
import sys
import time
from collections import Counter

import dagster as dg
import pytest
from botocore.client import BaseClient

from elt_assets.cli.samples import generate
from elt_assets.definitions import defs as load_definitions
from elt_assets.defs.daily.schedules import yesterday
from elt_assets.defs.datasets.assets import bronze_key, gold_key, silver_key
from elt_assets.defs.datasets.checks import CHECK_NAMES
from elt_assets.defs.queues.assets import DLQ, EVENTS_QUEUE
from elt_assets.lib.queues import queue_depths
from elt_assets.lib.state import summarise

pytestmark = pytest.mark.e2e
DAY = "2026-01-05"


@pytest.fixture
def env(stack, monkeypatch):
    for key, value in stack.env().items():
        monkeypatch.setenv(key, value)
    return stack


@pytest.fixture
def defs(env):
    return load_definitions()


@pytest.fixture
def instance(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        yield inst


def sensor_def(defs, name):
    """The sensor with its resources bound, as the daemon runs it."""
    return defs.get_repository_def().get_sensor_def(name)


def sensor_context(defs, instance, cursor=None):
    """A tick's context as the daemon builds it: the definitions and their resources."""
    return dg.build_sensor_context(
        instance=instance, definitions=defs, resources=defs.resources, cursor=cursor
    )


def put(stack, key: str, data: bytes) -> None:
    stack.client("s3").put_object(Bucket=stack.settings.bronze_bucket, Key=key, Body=data)


def silver_rows(stack, dataset: str) -> int:
    return summarise(stack.client("s3"), stack.settings.silver_bucket, dataset).silver_rows


def test_definitions_load_with_every_dataset(defs):
    repo = defs.get_repository_def()
    keys = repo.asset_graph.get_all_asset_keys()
    for name in ("shipments", "tracking_events", "invoice_lines", "transactions"):
        assert {bronze_key(name), silver_key(name), gold_key(name)} <= keys
        assert {c.name for c in repo.asset_graph.get_check_keys_for_assets([silver_key(name)])} == {
            "conservation", "quarantine_rate", "schema", "expectations", "volume"}  # fmt: skip
    assert {EVENTS_QUEUE, DLQ, dg.AssetKey(["reports", "daily"])} <= keys
    assert {"dlq_redrive", "quality_gate", "silver_checks", "daily_report"} <= {
        j.name for j in repo.get_all_jobs()
    }
    assert {"landings", "queue_depth", "dlq_auto_redrive"} <= {s.name for s in repo.sensor_defs}
    assert repo.get_schedule_def("daily_quality_gate").cron_schedule == "0 2 * * *"


def test_loading_the_code_location_does_not_import_great_expectations(env):
    code = "import sys, elt_assets.definitions; print('great_expectations' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"


def materialize(defs, instance, keys, day=DAY, checks=True):
    job = defs.get_repository_def().get_implicit_global_asset_job_def()
    selection = set(keys)
    check_keys = set()
    if checks:
        for key in keys:
            check_keys |= set(
                defs.get_repository_def().asset_graph.get_check_keys_for_assets([key])
            )
    return job.get_subset(
        asset_selection=selection, asset_check_selection=check_keys
    ).execute_in_process(partition_key=day, instance=instance, raise_on_error=False)


def test_replay_is_idempotent_and_matches_the_hot_path(env, defs, instance, runner):
    file = generate("shipments", "jsonl", 400, bad_ratio=0.02, seed=3)
    for i in range(3):
        put(env, f"bronze/shipments/dt={DAY}/part-{i}.jsonl", file.data)
    runner.drain(timeout=30)

    def listing():
        contents = env.client("s3").list_objects_v2(Bucket=env.settings.silver_bucket)["Contents"]
        # `_events/` is Dagster's record of what it announced after the checks, not data.
        return sorted(o["Key"] for o in contents if not o["Key"].startswith("_events/"))

    after_hot_path = (listing(), silver_rows(env, "shipments"))

    for _ in range(2):
        result = materialize(defs, instance, [silver_key("shipments")])
        assert result.success
    assert (listing(), silver_rows(env, "shipments")) == after_hot_path
    assert after_hot_path[1] == 3 * (400 - file.bad_total)
    materialization = instance.get_latest_materialization_event(
        silver_key("shipments")
    ).asset_materialization
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert (meta["objects"], meta["lines_in"], meta["rows_quarantined"]) == (
        3,
        1200,
        3 * file.bad_total,
    )
    assert meta["rows_out"] == after_hot_path[1] and meta["bytes_in"] == 3 * len(file.data)
    assert isinstance(meta["seconds"], float)


def test_replay_removes_rows_of_deleted_bronze_objects(env, defs, instance):
    put(env, f"bronze/tracking_events/dt={DAY}/a.jsonl", generate("tracking_events", count=10).data)
    put(
        env,
        f"bronze/tracking_events/dt={DAY}/b.jsonl",
        generate("tracking_events", count=20, seed=1).data,
    )
    materialize(defs, instance, [silver_key("tracking_events")], checks=False)
    env.client("s3").delete_object(
        Bucket=env.settings.bronze_bucket, Key=f"bronze/tracking_events/dt={DAY}/b.jsonl"
    )
    materialize(defs, instance, [silver_key("tracking_events")], checks=False)
    assert silver_rows(env, "tracking_events") == 10


def test_checks_pass_on_good_data_and_gold_is_written(env, defs, instance):
    put(
        env,
        f"bronze/invoice_lines/dt={DAY}/a.jsonl",
        generate("invoice_lines", count=80, seed=2).data,
    )
    result = materialize(defs, instance, [silver_key("invoice_lines"), gold_key("invoice_lines")])
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations if e.passed} == {
        "conservation",
        "quarantine_rate",
        "schema",
        "expectations",
        "volume",
    }
    summary = json.loads(env.client("s3").get_object(
        Bucket=env.settings.silver_bucket, Key=f"gold/invoice_lines_daily/dt={DAY}/summary.json")["Body"].read())  # fmt: skip
    assert summary["rows_out"] == 80


def test_a_failing_expectation_blocks_gold_and_says_why(env, defs, instance):
    good = generate("shipments", count=50, seed=4).data.splitlines()
    record = json.loads(good[0])
    record["weight_kg"] = -7.5  # the contract expects 0..30000
    data = b"\n".join([json.dumps(record).encode(), *good[1:]])
    put(env, f"bronze/shipments/dt={DAY}/negative.jsonl", data)
    result = materialize(defs, instance, [silver_key("shipments"), gold_key("shipments")])
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = evaluations["expectations"]
    assert not failed.passed
    assert "expect_column_values_to_be_between on weight_kg: 1 rows" in failed.description
    detail = failed.metadata["failed: expect_column_values_to_be_between(weight_kg)"].value
    assert detail["unexpected_count"] == 1 and -7.5 in detail["sample"]
    assert evaluations["conservation"].passed
    assert gold_key("shipments") not in {
        m.asset_key
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert instance.get_latest_materialization_event(gold_key("shipments")) is None


def gate_from_its_job_page(defs, instance, dataset, day=DAY):
    """What the UI's "Materialize all" on the quality_gate job page launches: the job's gold
    assets, and the checks of those assets only (gold has none), not silver's."""
    gate = defs.get_repository_def().get_job("quality_gate")
    return gate.get_subset(
        asset_selection={gold_key(dataset)}, asset_check_selection=set()
    ).execute_in_process(partition_key=day, instance=instance, raise_on_error=False)


def test_the_gate_launched_from_its_job_page_still_runs_silver_checks_before_gold(
    env, defs, instance
):
    good = generate("shipments", count=30, seed=6).data
    put(env, f"bronze/shipments/dt={DAY}/good.jsonl", good)
    assert materialize(defs, instance, [silver_key("shipments")], checks=False).success

    result = gate_from_its_job_page(defs, instance, "shipments")
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == set(CHECK_NAMES)
    assert all(e.passed and e.partition == DAY for e in evaluations.values())
    assert all(e.asset_key == silver_key("shipments") for e in evaluations.values())
    assert instance.get_latest_materialization_event(gold_key("shipments")) is not None

    # A day whose silver fails a check: gold stays unmade, and the run says which check.
    record = json.loads(good.splitlines()[0])
    record["weight_kg"] = -1.0
    put(env, "bronze/shipments/dt=2026-01-06/negative.jsonl", json.dumps(record).encode())
    day = "2026-01-06"
    assert materialize(defs, instance, [silver_key("shipments")], day=day, checks=False).success
    blocked = gate_from_its_job_page(defs, instance, "shipments", day=day)
    assert not blocked.success
    (failure,) = [e for e in blocked.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(f"silver/shipments dt={day} failed its checks, so gold is not made")
    assert "expectations: expect_column_values_to_be_between on weight_kg" in message
    gold_days = instance.get_materialized_partitions(gold_key("shipments"))
    assert gold_days == {DAY}


def test_an_empty_day_after_a_day_with_data_fails_the_volume_check(env, defs, instance):
    put(env, "bronze/invoice_lines/dt=2026-01-04/a.jsonl", generate("invoice_lines", count=5).data)
    materialize(defs, instance, [silver_key("invoice_lines")], day="2026-01-04", checks=False)
    result = materialize(defs, instance, [silver_key("invoice_lines"), gold_key("invoice_lines")])
    volume = {e.check_name: e for e in result.get_asset_check_evaluations()}["volume"]
    assert not volume.passed
    assert volume.description == "no objects arrived this day, after 1 the day before"
    assert instance.get_latest_materialization_event(gold_key("invoice_lines")) is None
    # A day before any data is not a failure: nothing has stopped arriving.
    first = materialize(defs, instance, [silver_key("invoice_lines")], day="2026-01-03")
    assert {e.check_name: e.passed for e in first.get_asset_check_evaluations()}["volume"]


def test_quarantine_rate_check_fails_above_the_contract_threshold(env, defs, instance):
    put(
        env,
        f"bronze/transactions/dt={DAY}/bad.csv",
        generate("transactions", "csv", 100, bad_ratio=0.2, seed=5).data,
    )
    result = materialize(defs, instance, [silver_key("transactions")])
    rate = {e.check_name: e for e in result.get_asset_check_evaluations()}["quarantine_rate"]
    assert not rate.passed
    assert rate.metadata["quarantine_rate"].value == pytest.approx(0.2)
    assert rate.metadata["by_reason"].value  # which reasons


def test_landings_sensor_reports_partitions_and_requests_their_checks(env, defs, instance, runner):
    put(env, f"bronze/shipments/dt={DAY}/l1.jsonl", generate("shipments", count=30).data)
    put(
        env, "bronze/invoice_lines/dt=2026-01-06/l2.jsonl", generate("invoice_lines", count=12).data
    )
    put(env, f"bronze/invoice_lines/dt={DAY}/l3.jsonl", generate("invoice_lines", count=5).data)
    runner.drain(timeout=30)
    sensor = sensor_def(defs, "landings")
    with sensor_context(defs, instance) as context:
        result = sensor.evaluate_tick(context)
    partitions = {(e.asset_key, e.partition) for e in result.asset_events}
    assert partitions == {
        (bronze_key("shipments"), DAY), (silver_key("shipments"), DAY),
        (bronze_key("invoice_lines"), DAY), (silver_key("invoice_lines"), DAY),
        (bronze_key("invoice_lines"), "2026-01-06"), (silver_key("invoice_lines"), "2026-01-06"),
    }  # fmt: skip
    silver_event = next(e for e in result.asset_events if e.asset_key == silver_key("shipments"))
    assert silver_event.metadata["rows_out"].value == 30
    # One run per day that landed, holding every check of every dataset that landed on it.
    requests = {
        r.tags["dagster/partition"]: {(k.asset_key.path[-1], k.name) for k in r.asset_check_keys}
        for r in result.run_requests
    }
    assert len(result.run_requests) == 2
    assert requests == {
        DAY: {(d, name) for d in ("shipments", "invoice_lines") for name in CHECK_NAMES},
        "2026-01-06": {("invoice_lines", name) for name in CHECK_NAMES},
    }
    # The requested run really checks that partition.
    request = next(r for r in result.run_requests if r.tags["dagster/partition"] == DAY)
    job = defs.get_repository_def().get_job("silver_checks")
    run = job.get_subset(asset_check_selection=set(request.asset_check_keys)).execute_in_process(
        instance=instance, tags=request.tags
    )
    assert {
        (e.asset_key.path[-1], e.check_name, e.partition, e.passed)
        for e in run.get_asset_check_evaluations()
    } == {(d, name, DAY, True) for d in ("shipments", "invoice_lines") for name in CHECK_NAMES}
    # The landings were consumed: the next tick has nothing, and its work does not grow with the bucket.
    with sensor_context(defs, instance, result.cursor) as context:
        again = sensor.evaluate_tick(context)
    assert again.asset_events == [] and again.run_requests == []


def test_a_landings_tick_that_was_never_stored_loses_nothing(
    env, defs, instance, runner, monkeypatch
):
    from elt_assets.defs.datasets import sensors

    monkeypatch.setattr(sensors, "VISIBILITY_SECONDS", 1)
    put(env, f"bronze/shipments/dt={DAY}/crash.jsonl", generate("shipments", count=20).data)
    runner.drain(timeout=30)
    sensor = sensor_def(defs, "landings")
    with sensor_context(defs, instance) as context:
        lost = sensor.evaluate_tick(context)  # the daemon dies before it stores this tick
    assert lost.asset_events
    time.sleep(1.5)
    with sensor_context(defs, instance) as context:  # the restarted daemon has the old cursor
        retried = sensor.evaluate_tick(context)

    def as_partitions(r):
        return sorted((e.asset_key.to_user_string(), e.partition) for e in r.asset_events)

    assert as_partitions(retried) == as_partitions(lost)
    # Once a tick is stored, the next one deletes its messages: they never come back.
    with sensor_context(defs, instance, retried.cursor) as context:
        sensor.evaluate_tick(context)
    time.sleep(1.5)
    depth = queue_depths(env.client("sqs"), env.settings.landings_queue_url)
    assert depth["visible"] + depth["in_flight"] == 0


def test_a_replay_is_reported_once_and_stays_the_latest(env, defs, instance, runner):
    put(env, f"bronze/shipments/dt={DAY}/r.jsonl", generate("shipments", count=25).data)
    runner.drain(timeout=30)
    sensor = sensor_def(defs, "landings")
    with sensor_context(defs, instance) as context:
        first = sensor.evaluate_tick(context)
    assert first.run_requests  # the hot path's landing: reported, and its checks requested
    assert materialize(defs, instance, [silver_key("shipments")], checks=False).success
    with sensor_context(defs, instance, first.cursor) as context:
        after_replay = sensor.evaluate_tick(context)
    # The replay rewrote the manifest; its own run already reported the partition.
    assert after_replay.asset_events == [] and after_replay.run_requests == []
    latest = instance.get_latest_materialization_event(silver_key("shipments"))
    meta = latest.asset_materialization.metadata
    assert meta["objects"].value == 1 and meta["dagster/row_count"].value == 25
    manifest = json.loads(env.client("s3").get_object(
        Bucket=env.settings.silver_bucket,
        Key=first.asset_events[1].metadata["manifest"].value.removeprefix(f"s3://{env.settings.silver_bucket}/"),
    )["Body"].read())  # fmt: skip
    assert manifest["writer"] == "replay"


def test_a_check_run_downloads_each_silver_file_once(env, defs, instance, monkeypatch):
    for i in range(3):
        put(
            env,
            f"bronze/shipments/dt={DAY}/once-{i}.jsonl",
            generate("shipments", count=40, seed=i).data,
        )
    materialize(defs, instance, [silver_key("shipments")], checks=False)
    gets = Counter()
    make_api_call = BaseClient._make_api_call

    def counting(self, operation, params):
        if operation == "GetObject":
            gets[params["Key"]] += 1
        return make_api_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    result = materialize(defs, instance, [silver_key("shipments")], checks=True)
    assert {e.check_name for e in result.get_asset_check_evaluations() if e.passed} == {
        "conservation", "quarantine_rate", "schema", "expectations", "volume"}  # fmt: skip
    parquet = {k: n for k, n in gets.items() if k.startswith("silver/")}
    assert len(parquet) == 3
    # The replay writes them; the checks of the partition then read each one once.
    assert set(parquet.values()) == {1}


def test_queue_depth_sensor_observes_both_queues(env, defs, instance):
    sqs = env.client("sqs")
    for i in range(3):
        sqs.send_message(QueueUrl=env.settings.dlq_url, MessageBody=json.dumps({"n": i}))
    with sensor_context(defs, instance) as context:
        result = sensor_def(defs, "queue_depth").evaluate_tick(context)
    observed = {e.asset_key: e.metadata for e in result.asset_events}
    assert observed[DLQ]["visible"].value == 3
    assert observed[EVENTS_QUEUE]["visible"].value == 0
    assert {"visible", "in_flight", "delayed"} <= set(observed[DLQ])


def test_dlq_auto_redrive_requests_the_job_then_backs_off(env, defs, instance):
    sensor = sensor_def(defs, "dlq_auto_redrive")
    with sensor_context(defs, instance) as context:
        assert sensor.evaluate_tick(context).run_requests == []
    env.client("sqs").send_message(QueueUrl=env.settings.dlq_url, MessageBody="{}")
    with sensor_context(defs, instance) as context:
        first = sensor.evaluate_tick(context)
    assert [r.job_name for r in first.run_requests] in ([None], ["dlq_redrive"])
    assert len(first.run_requests) == 1
    with sensor_context(defs, instance, first.cursor) as context:
        second = sensor.evaluate_tick(context)
    assert second.run_requests == [] and "backing off" in second.skip_message


def test_dlq_redrive_job_moves_every_message_exactly_once(env, defs, instance):
    sqs = env.client("sqs")
    bodies = {json.dumps({"n": i}) for i in range(23)}
    for body in bodies:
        sqs.send_message(QueueUrl=env.settings.dlq_url, MessageBody=body)
    result = defs.get_repository_def().get_job("dlq_redrive").execute_in_process(instance=instance)
    assert result.success
    assert result.output_for_node("redrive_dlq")["moved"] == 23
    moved = []
    while got := sqs.receive_message(QueueUrl=env.settings.queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        moved.extend(m["Body"] for m in got)
        sqs.delete_message_batch(QueueUrl=env.settings.queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])  # fmt: skip
    assert sorted(moved) == sorted(bodies)
    assert sqs.receive_message(QueueUrl=env.settings.dlq_url).get("Messages") is None


def test_the_schedule_targets_yesterday(defs):
    repo = defs.get_repository_def()
    schedule = repo.get_schedule_def("daily_quality_gate")
    when = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=repo) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2026-02-28"
    assert yesterday(dt.datetime(2026, 1, 1, 2, 0, tzinfo=dt.UTC)) == "2025-12-31"


def test_quality_gate_and_report(env, defs, instance):
    put(
        env,
        f"bronze/invoice_lines/dt={DAY}/r.jsonl",
        generate("invoice_lines", count=40, bad_ratio=0.05, seed=8).data,
    )
    materialize(defs, instance, [silver_key("invoice_lines")], checks=False)
    gate = (
        defs.get_repository_def()
        .get_job("quality_gate")
        .execute_in_process(partition_key=DAY, instance=instance, raise_on_error=False)
    )
    assert gate.get_asset_check_evaluations()
    report = (
        defs.get_repository_def()
        .get_job("daily_report")
        .execute_in_process(partition_key=DAY, instance=instance)
    )
    assert report.success
    keys = [
        o["Key"]
        for o in env.client("s3").list_objects_v2(
            Bucket=env.settings.silver_bucket, Prefix=f"reports/{DAY}/"
        )["Contents"]
    ]
    assert any(k.endswith(".md") for k in keys) and any(k.endswith(".png") for k in keys)
    meta = instance.get_latest_materialization_event(
        dg.AssetKey(["reports", "daily"])
    ).asset_materialization.metadata
    assert "invoice_lines" in meta["report"].value
    # The UI cannot fetch from the bucket: the chart travels inside the markdown, as a PNG.
    (src,) = re.findall(r"!\[[^\]]*\]\(data:image/png;base64,([^)]+)\)", meta["report"].value)
    assert base64.b64decode(src).startswith(b"\x89PNG")
    assert meta["rows_out"].value == 38


def _requested(result, key) -> set[str]:
    return set(result.get_requested_partitions(key))


def test_gold_models_and_warehouse_loads_follow_checked_silver_without_a_sensor(
    env, defs, instance
):
    from elt_assets.defs.models.assets import model_key
    from elt_assets.defs.warehouse.assets import warehouse_key

    now = dt.datetime.now(dt.UTC)
    day, older = (now.date() - dt.timedelta(days=1)).isoformat(), "2026-01-05"
    cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
    # A day that landed but has not been checked yet: nothing downstream is made from it.
    put(env, f"bronze/shipments/dt={day}/a.jsonl", generate("shipments", count=40, seed=9).data)
    assert materialize(defs, instance, [silver_key("shipments")], day=day, checks=False).success
    waiting = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    assert waiting.total_requested == 0
    # Its checks pass: the day's models over shipments alone, and their warehouse tables.
    checked = materialize(defs, instance, [silver_key("shipments")], day=day)
    assert all(e.passed for e in checked.get_asset_check_evaluations())
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=waiting.cursor)
    for key in (
        model_key("shipments_by_carrier"),
        model_key("shipments_current"),
        warehouse_key("shipments"),
        warehouse_key("shipments_by_carrier"),
    ):
        assert _requested(result, key) == {day}, key
    # shipment_status also reads tracking_events, whose day has not been checked.
    assert _requested(result, model_key("shipment_status")) == set()
    assert _requested(result, warehouse_key("invoice_lines")) == set()
    # A day the user can replay by hand, but older than yesterday, is left to them.
    put(env, f"bronze/shipments/dt={older}/a.jsonl", generate("shipments", count=40, seed=9).data)
    assert materialize(defs, instance, [silver_key("shipments")], day=older).success
    later = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert older not in _requested(later, model_key("shipments_by_carrier"))


def test_a_dataset_that_stops_arriving_has_a_freshness_policy_that_turns_it_red(defs):
    graph = defs.get_repository_def().asset_graph
    policy = graph.get(silver_key("shipments")).freshness_policy
    assert policy.fail_window.to_timedelta() == dt.timedelta(hours=49)
    assert policy.warn_window.to_timedelta() == dt.timedelta(hours=25)
    # Reference data changes when it changes, and fx_rates/merchants are not expected daily.
    assert graph.get(silver_key("fx_rates")).freshness_policy is None
    assert graph.get(silver_key("merchants")).freshness_policy is None
    sensor = defs.get_repository_def().get_sensor_def("gold_and_warehouse_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_silver_can_replay_its_day_through_the_queue_as_run_config(env, defs, instance, runner):
    from elt_assets.lib.state import partition_manifests

    put(env, f"bronze/shipments/dt={DAY}/q.jsonl", generate("shipments", count=60, seed=21).data)
    runner.start()
    runner.drain(timeout=60)
    s3, bucket = env.client("s3"), env.settings.silver_bucket
    (hot_path,) = partition_manifests(s3, bucket, "shipments", DAY)
    job = (
        defs.get_repository_def()
        .get_implicit_global_asset_job_def()
        .get_subset(asset_selection={silver_key("shipments")}, asset_check_selection=set())
    )
    config = {"ops": {"silver__shipments": {"config": {"via_queue": True}}}}
    result = job.execute_in_process(partition_key=DAY, instance=instance, run_config=config)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.event_specific_data.materialization.metadata
    assert metadata["objects"].value == 1 and metadata["rows_out"].value == 60
    # The transform Lambda wrote the day again (not this run), after the run sent its message.
    (replayed,) = partition_manifests(s3, bucket, "shipments", DAY)
    assert replayed["writer"] == "transform"
    assert replayed["processed_at"] > hot_path["processed_at"]


def consumed(env, url: str) -> list[dict]:
    """What a downstream consumer subscribed to a topic has received (and deletes)."""
    sqs, out = env.client("sqs"), []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if not got.get("Messages"):
            return out
        for message in got["Messages"]:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def checks_only(defs, instance, dataset: str, day: str):
    """The run the landings sensor requests: every check of one partition, no asset."""
    job = defs.get_repository_def().get_job("silver_checks")
    keys = set(
        defs.get_repository_def().asset_graph.get_check_keys_for_assets([silver_key(dataset)])
    )
    return job.get_subset(asset_check_selection=keys).execute_in_process(
        instance=instance, tags={"dagster/partition": day}, raise_on_error=False
    )


def test_a_partition_that_passes_is_announced_once_per_state(env, defs, instance):
    put(env, f"bronze/shipments/dt={DAY}/a.jsonl", generate("shipments", count=30, seed=31).data)
    assert materialize(defs, instance, [silver_key("shipments")]).success
    (event,) = consumed(env, env.events_consumer_url)
    assert event["event"] == "partition_ready"
    assert (event["dataset"], event["dt"], event["rows"], event["objects"]) == (
        "shipments",
        DAY,
        30,
        1,
    )
    assert event["checks"] == dict.fromkeys(sorted(CHECK_NAMES), True)
    (key,) = event["silver_keys"]
    assert key.startswith(f"s3://{env.settings.silver_bucket}/silver/shipments/dt={DAY}/part-")
    # The same checks again, nothing changed: consumers hear nothing new.
    assert checks_only(defs, instance, "shipments", DAY).success
    assert consumed(env, env.events_consumer_url) == []
    # A new file for the day: the next passing run announces the new state.
    put(env, f"bronze/shipments/dt={DAY}/b.jsonl", generate("shipments", count=12, seed=32).data)
    assert materialize(defs, instance, [silver_key("shipments")]).success
    (again,) = consumed(env, env.events_consumer_url)
    assert (again["rows"], again["objects"], len(again["silver_keys"])) == (42, 2, 2)


def test_a_failed_gate_alerts_once_and_announces_nothing(env, defs, instance):
    good = generate("shipments", count=20, seed=33).data.splitlines()
    record = json.loads(good[0])
    record["weight_kg"] = -1.0  # outside the contract's expectation
    put(
        env,
        f"bronze/shipments/dt={DAY}/neg.jsonl",
        b"\n".join([json.dumps(record).encode(), *good[1:]]),
    )
    assert materialize(defs, instance, [silver_key("shipments")], checks=False).success
    gate = defs.get_repository_def().get_job("quality_gate")
    result = gate.execute_in_process(partition_key=DAY, instance=instance, raise_on_error=False)
    assert not result.success
    # The other datasets passed, but had no data that day: nothing is announced at all.
    assert consumed(env, env.events_consumer_url) == []
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    sensor = defs.get_repository_def().get_sensor_def("report_after_gate_failure")
    for _ in range(2):  # a tick evaluated twice (a daemon restart) alerts once
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=failure, dagster_instance=instance,
            dagster_run=result.dagster_run, resources=defs.resources,
        )  # fmt: skip
        request = sensor(context)
        assert request.partition_key == DAY  # the report still follows
    (alert,) = consumed(env, env.alerts_consumer_url)
    assert alert["event"] == "quality_gate_failed" and alert["dt"] == DAY
    assert {"dataset": "shipments", "check": "expectations"} in [
        {k: f[k] for k in ("dataset", "check")} for f in alert["failed"]
    ]
