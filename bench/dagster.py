"""Section 6: the Dagster control plane.

- Code-location load: fresh `import elt_assets.definitions` against a fresh `import dagster`
  (the floor of any code location), and whether great_expectations was imported on the way.
- Landings sensor tick with 1k vs 50k objects in bronze: the tick reads the landings queue, so
  its cost should follow what landed (10 manifests a tick here), not the bucket's size.
- Replay of one silver partition of 20 objects through Dagster, against the same 20 objects
  handed straight to `process_object`: the ratio is what Dagster adds.
- As the UI runs them, on `dagster dev` (webserver and daemon, each run in its own process):
  a check run of one partition (all five checks, Great Expectations imported in the run)
  against an empty run of the same job on the same instance (one check that reads nothing),
  and a 3-partition backfill of `silver/shipments` launched over GraphQL against the same three
  replays done by `replay_partition` directly.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import REPO, Figure, at_most, median, run_worker
from bench.report import Section, figure_table

LANDINGS_PER_TICK = 10
REPLAY_OBJECTS = 20
RECORDS_PER_REPLAY_OBJECT = 2000
DAY = "2026-05-01"
UI_DAYS = ("2026-05-11", "2026-05-12", "2026-05-13")
UI_EMPTY_DAY = "2026-04-20"  # no data that day or the day before: the volume check reads nothing


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
    if payload.get("ui"):
        return measure_ui(payload)
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


# -- as the UI runs it: dagster dev, GraphQL ---------------------------------------------------

LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
RUN_STATUS = """
query($id: ID!) {
  runOrError(runId: $id) { ... on Run { status creationTime startTime endTime } }
}
"""
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
BACKFILL_RUNS = """
query($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) { ... on Runs { results { runId status creationTime endTime } } }
}
"""
LOCATION = """
query { workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename } } } } }
"""
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


class _UI:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url,
            data=json.dumps({"query": text, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        if "errors" in body:
            raise RuntimeError(body["errors"])
        return body["data"]

    def wait_for_location(self, deadline: float) -> str:
        while time.monotonic() < deadline:
            try:
                entries = self.query(LOCATION)["workspaceOrError"]["locationEntries"]
            except OSError:
                entries = []
            for entry in entries:
                if (entry["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation":
                    return entry["name"]
            time.sleep(0.5)
        raise TimeoutError("dagster dev did not load the code location")

    def run_seconds(self, location: str, dataset: str, checks: list[str], day: str) -> float:
        """Launch the `silver_checks` job for `checks` of one partition, as the landings sensor
        requests it; the run's own creation-to-end time once it has finished."""
        params = {
            "selector": {
                "repositoryLocationName": location,
                "repositoryName": "__repository__",
                "jobName": "silver_checks",
                "assetSelection": [],
                "assetCheckSelection": [
                    {"assetKey": {"path": ["silver", dataset]}, "name": name} for name in checks
                ],
            },
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
        }
        launched = self.query(LAUNCH_RUN, {"params": params})["launchRun"]
        if launched["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(launched)
        run_id = launched["run"]["runId"]
        while True:
            run = self.query(RUN_STATUS, {"id": run_id})["runOrError"]
            if run["status"] in TERMINAL:
                if run["status"] != "SUCCESS":
                    raise RuntimeError(f"run {run_id} ended {run['status']}")
                return run["endTime"] - run["creationTime"]
            time.sleep(0.25)

    def backfill_seconds(
        self, dataset: str, days: tuple[str, ...], timeout: float
    ) -> tuple[float, float]:
        """Launch a backfill of `silver/<dataset>` for `days` as the UI does; from the launch to
        the end of its last run (the daemon marks the backfill complete on a later tick), and
        from the launch to the creation of its first run (the daemon picking it up)."""
        params = {"partitionNames": list(days), "assetSelection": [{"path": ["silver", dataset]}]}
        started = time.time()
        launched = self.query(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(launched)
        tags = [{"key": "dagster/backfill", "value": launched["backfillId"]}]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.query(BACKFILL_RUNS, {"tags": tags})["runsOrError"]["results"]
            if len(runs) == len(days) and all(r["status"] in TERMINAL for r in runs):
                failed = [r["runId"] for r in runs if r["status"] != "SUCCESS"]
                if failed:
                    raise RuntimeError(f"backfill runs failed: {failed}")
                first = min(r["creationTime"] for r in runs) - started
                return max(r["endTime"] for r in runs) - started, first
            time.sleep(0.5)
        raise TimeoutError("the backfill did not finish")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_ui(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry: check runs and a backfill through `dagster dev`, as a user launches them."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    from elt_assets.cli.local.runner import LambdaRunner
    from elt_assets.cli.local.stack import ResourceNames, provision, start_server
    from elt_assets.cli.samples import generate
    from elt_assets.cli.stack_commands import _stop_process_group
    from elt_assets.defs.datasets.checks import CHECK_NAMES
    from elt_assets.lib.replay import replay_partition
    from lambda_bridge.contracts import ContractRegistry

    contract = ContractRegistry.load()["shipments"]
    server, endpoint = start_server()
    dagster = None
    try:
        stack = provision(endpoint, ResourceNames("bench-ui"))
        os.environ.update(stack.env())
        s3 = stack.client("s3")
        for d, day in enumerate(UI_DAYS):
            for i in range(payload["objects"]):
                s3.put_object(
                    Bucket=stack.settings.bronze_bucket,
                    Key=f"bronze/shipments/dt={day}/ui-{i}.jsonl",
                    Body=generate("shipments", count=payload["records"], seed=100 * d + i).data,
                )
        LambdaRunner(stack).drain(timeout=300)
        home = Path(tempfile.mkdtemp(prefix="bench-dagster-home-"))
        (home / "dagster.yaml").write_text("nux:\n  enabled: false\n", encoding="utf-8")
        port = _free_port()
        # The landings sensor stays idle (no queue): the runs measured are the only runs.
        env = {**os.environ, **stack.env(), "ELT_LANDINGS_QUEUE_URL": "", "DAGSTER_HOME": str(home)}
        dagster = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-m", "elt_assets.definitions",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        ui = _UI(port)
        location = ui.wait_for_location(time.monotonic() + 180)
        all_checks, one_check = list(CHECK_NAMES), ["volume"]
        ui.run_seconds(location, "shipments", all_checks, UI_DAYS[0])  # warm-up: first run
        check_s, empty_s = [], []
        for run in range(payload["runs"]):
            # Take turns going first, so neither always finds the machine warmer.
            order = [("check", all_checks, UI_DAYS[0]), ("empty", one_check, UI_EMPTY_DAY)]
            for which, checks, day in order if run % 2 == 0 else order[::-1]:
                seconds = ui.run_seconds(location, "shipments", checks, day)
                (check_s if which == "check" else empty_s).append(seconds)
        backfill_s, pickup_s = ui.backfill_seconds("shipments", UI_DAYS, timeout=600)
        started = time.perf_counter()
        for day in UI_DAYS:
            replay_partition(
                s3, contract, stack.settings.bronze_bucket, stack.settings.silver_bucket, day
            )
        direct_s = time.perf_counter() - started
    finally:
        if dagster is not None:
            _stop_process_group(dagster)
        server.stop()
    return {
        "check_run_s": median(check_s),
        "empty_run_s": median(empty_s),
        "backfill_s": backfill_s,
        "backfill_pickup_s": pickup_s,
        "replay_direct_s": direct_s,
        "check_samples": check_s,
        "empty_samples": empty_s,
    }


# -- parent side -----------------------------------------------------------------------------


def section(runs: int, quick: bool) -> Section:
    load = _fresh_import_seconds("import elt_assets.definitions", runs)
    floor = _fresh_import_seconds("import dagster", runs)
    # What a check run pays on top of an empty one before it reads anything.
    gx_import = _fresh_import_seconds("import great_expectations", runs)
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
    ui = run_worker(
        "dagster",
        {"ui": True, "objects": 5 if quick else 10, "records": 1000 if quick else 2000,
         "runs": 3 if quick else runs},
    )  # fmt: skip
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
        Figure("dagster", "check run of one partition in dagster dev (5 checks, Great Expectations imported)",
               ui["check_run_s"], "s", baseline="an empty run of the same job on the same instance",
               baseline_value=ui["empty_run_s"], target=at_most(3.0),
               note="the difference is importing Great Expectations in the run (a fresh import alone: "
                    f"{gx_import:.1f} s, but the run has already loaded part of what it needs), reading "
                    "the partition's files once and running the five checks"),
        Figure("dagster", "great_expectations import (fresh process)", gx_import, "s",
               baseline="fresh `import dagster`", baseline_value=floor),
        Figure("dagster", f"{len(UI_DAYS)}-partition backfill of silver/shipments from the UI (GraphQL, dagster dev)",
               ui["backfill_s"], "s", baseline=f"the same {len(UI_DAYS)} replays by replay_partition directly",
               baseline_value=ui["replay_direct_s"], target=at_most(3.0),
               note=f"the daemon created the first run {ui['backfill_pickup_s']:.0f} s after the launch; "
                    "each run then starts a process and loads the code location, three at once on this machine"),
    ]  # fmt: skip
    body = (
        "Load time is the median of fresh processes. The sensor tick drains the landings queue "
        f"(S3 notifications of new manifests), so it should cost the same with {large_label} "
        "objects in bronze as with 1k; the bucket is filled through moto's backend, the "
        f"{LANDINGS_PER_TICK} new objects a tick go through the embedded hot path. Replay is a "
        "`silver/shipments` materialization (in process) on the embedded stack.\n\n"
        "The last two are launched as a user launches them, over GraphQL on `dagster dev` (its "
        "webserver, daemon and default run launcher: every run is a fresh process that loads "
        "the code location). A check run is the `silver_checks` job for the five checks of one "
        "partition, as the landings sensor requests it (the partition's files read once, Great "
        "Expectations imported inside the run); the empty run is the same job on the same "
        "instance with only the `volume` check of a day with no data (one LIST). Both are the "
        "run's own creation-to-end time, so the ratio is what checking a partition adds to what "
        "any run costs (process start, code-location load, run bookkeeping). The backfill is "
        "timed from the launch to the end of its last run (one run per partition, each "
        "replaying and then checking its day); the baseline is the same three days replayed "
        "by `replay_partition` in one warm process, without the checks.\n\n" + figure_table(figures)
    )
    return Section(6, "Dagster control plane", figures=figures, body=body)
