"""Section 6: the Dagster control plane.

- Code-location load: fresh `import elt_assets.definitions` against a fresh `import dagster`
  (the floor of any code location), and whether great_expectations was imported on the way.
- Landings sensor tick with 1k vs 50k objects in bronze: the tick reads the landings queue, so
  its cost should follow what landed (10 manifests a tick here), not the bucket's size.
- Replay of one silver partition of 20 objects through Dagster, against the same 20 objects
  handed straight to `process_object`: the ratio is what Dagster adds.
"""

import os
import subprocess
import sys
import time
from typing import Any

from bench.common import REPO, Figure, at_most, median, run_worker
from bench.report import Section, figure_table

LANDINGS_PER_TICK = 10
REPLAY_OBJECTS = 20
RECORDS_PER_REPLAY_OBJECT = 2000
DAY = "2026-05-01"


def _fresh_import_seconds(statement: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], cwd=REPO, check=True)
        samples.append(time.perf_counter() - started)
    return median(samples)


# -- worker side -----------------------------------------------------------------------------


def measure(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry: sensor ticks at two bucket sizes, and the replay of one partition."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    import logging

    import dagster as dg
    from moto.s3.models import s3_backends

    # Runs executed in process log every step at DEBUG to the console; the bench prints figures.
    logging.getLogger("dagster").setLevel(logging.WARNING)

    from elt_assets.cli.local.runner import LambdaRunner
    from elt_assets.cli.local.stack import ResourceNames, provision, start_server
    from elt_assets.cli.samples import generate
    from elt_assets.definitions import defs as load_definitions
    from elt_assets.lib.replay import replay_partition
    from lambda_bridge.contracts import ContractRegistry

    clock = time.perf_counter()

    def phase(text: str) -> None:
        print(
            f"    [dagster {time.perf_counter() - clock:5.1f}s] {text}", file=sys.stderr, flush=True
        )

    server, endpoint = start_server()
    contract = ContractRegistry.load()["shipments"]
    ticks: dict[str, float] = {}
    try:
        for label, objects in (("1k", payload["small"]), ("50k", payload["large"])):
            stack = provision(endpoint, ResourceNames(f"bench-{label}"))
            os.environ.update(stack.env())
            # Filling the bucket through HTTP would take minutes: write into moto's backend, with
            # the bronze notification off (moto's notifications grow slower per object, and the
            # filler is old data the hot path must not process), then put it back.
            s3_client = stack.client("s3")
            bronze = stack.settings.bronze_bucket
            notification = s3_client.get_bucket_notification_configuration(Bucket=bronze)
            notification.pop("ResponseMetadata", None)
            s3_client.put_bucket_notification_configuration(
                Bucket=bronze, NotificationConfiguration={}
            )
            backend = s3_backends["123456789012"]["global"]
            filler = generate("shipments", count=5, seed=1).data
            for i in range(objects):
                key = f"bronze/shipments/dt=2026-04-{i % 28 + 1:02d}/old-{i}.jsonl"
                backend.put_object(bronze, key, filler)
            s3_client.put_bucket_notification_configuration(
                Bucket=bronze, NotificationConfiguration=notification
            )
            phase(f"{objects} objects in bronze")
            defs = load_definitions()
            sensor = defs.get_repository_def().get_sensor_def("landings")
            runner = LambdaRunner(stack)
            samples = []
            with dg.instance_for_test() as instance:
                for tick in range(payload["ticks"]):
                    for j in range(LANDINGS_PER_TICK):
                        stack.client("s3").put_object(
                            Bucket=stack.settings.bronze_bucket,
                            Key=f"bronze/shipments/dt={DAY}/new-{tick}-{j}.jsonl",
                            Body=filler,
                        )
                    runner.drain(timeout=120)
                    context = dg.build_sensor_context(
                        instance=instance, definitions=defs, resources=defs.resources
                    )
                    started = time.perf_counter()
                    result = sensor.evaluate_tick(context)
                    samples.append(time.perf_counter() - started)
                    assert len(result.asset_events) == 2 * LANDINGS_PER_TICK, len(
                        result.asset_events
                    )
            ticks[label] = median(samples[1:])  # the first tick also warms clients up
            phase(f"ticks with {label}: {samples}")

        stack = provision(endpoint, ResourceNames("bench-replay"))
        os.environ.update(stack.env())
        s3 = stack.client("s3")
        data = generate("shipments", count=RECORDS_PER_REPLAY_OBJECT, seed=7).data
        for i in range(REPLAY_OBJECTS):
            s3.put_object(
                Bucket=stack.settings.bronze_bucket,
                Key=f"bronze/shipments/dt={DAY}/r-{i}.jsonl",
                Body=data,
            )
        phase("replay data in bronze")
        defs = load_definitions()
        repo = defs.get_repository_def()
        job = repo.get_implicit_global_asset_job_def().get_subset(
            # The replay alone: an asset's checks would otherwise run with it.
            asset_selection={dg.AssetKey(["silver", "shipments"])},
            asset_check_selection=set(),
        )
        dagster_s, direct_s = [], []
        with dg.instance_for_test() as instance:
            for _ in range(payload["runs"]):
                started = time.perf_counter()
                assert job.execute_in_process(partition_key=DAY, instance=instance).success
                dagster_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                summary = replay_partition(
                    s3, contract, stack.settings.bronze_bucket, stack.settings.silver_bucket, DAY
                )
                direct_s.append(time.perf_counter() - started)
                assert summary.objects == REPLAY_OBJECTS
    finally:
        server.stop()
    return {
        "tick_1k_s": ticks["1k"],
        "tick_50k_s": ticks["50k"],
        "replay_dagster_s": median(dagster_s),
        "replay_direct_s": median(direct_s),
        "replay_mb": REPLAY_OBJECTS * len(data) / 1e6,
    }


# -- parent side -----------------------------------------------------------------------------


def section(runs: int, quick: bool) -> Section:
    load = _fresh_import_seconds("import elt_assets.definitions", runs)
    floor = _fresh_import_seconds("import dagster", runs)
    gx = subprocess.run(
        [sys.executable, "-c", "import sys, elt_assets.definitions; print('great_expectations' in sys.modules)"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.strip() == "True"  # fmt: skip
    answer = run_worker(
        "dagster",
        {
            "small": 1000,
            "large": 5000 if quick else 50000,
            "ticks": 4 if quick else 6,
            "runs": 3 if quick else 5,
        },
    )
    large_label = "5k" if quick else "50k"
    figures = [
        Figure("dagster", "code-location load (fresh import of elt_assets.definitions)", load, "s",
               baseline="fresh `import dagster`", baseline_value=floor),
        Figure("dagster", "great_expectations imported at code-location load", float(gx), "yes=1",
               note="must be 0: GX is imported inside the expectations check only"),
        Figure("dagster", f"landings sensor tick, {large_label} objects in bronze ({LANDINGS_PER_TICK} landings)",
               answer["tick_50k_s"], "s", baseline="the same tick with 1k objects", baseline_value=answer["tick_1k_s"],
               target=at_most(1.5)),
        Figure("dagster", f"replay of one partition ({REPLAY_OBJECTS} objects) through Dagster",
               answer["replay_mb"] / answer["replay_dagster_s"], "MB/s",
               baseline="the same replay_partition call without Dagster",
               baseline_value=answer["replay_mb"] / answer["replay_direct_s"]),
    ]  # fmt: skip
    body = (
        "Load time is the median of fresh processes. The sensor tick drains the landings queue "
        f"(S3 notifications of new manifests), so it should cost the same with {large_label} "
        "objects in bronze as with 1k; the bucket is filled through moto's backend, the "
        f"{LANDINGS_PER_TICK} new objects a tick go through the embedded hot path. Replay is a "
        "`silver/shipments` materialization (in process) on the embedded stack.\n\n"
        + figure_table(figures)
    )
    return Section(6, "Dagster control plane", figures=figures, body=body)
