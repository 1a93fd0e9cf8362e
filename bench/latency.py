"""Section 5: put_object -> manifest visible on the embedded stack, against a direct call.

The pipeline path is S3 notification -> ingest handler -> SQS -> transform handler -> manifest,
played by `LambdaRunner` on a moto server. The baseline is the same object put into a bucket
without notifications and handed straight to `process_object`: what the pipeline adds on top
of the transform itself is the ratio. Samples alternate between the two.
"""

import os
import statistics
import time
from typing import Any

from bench.common import Figure, median
from bench.report import Section, figure_table

RECORDS_PER_OBJECT = 100
WARM_UP = 3
MANIFEST_TIMEOUT_S = 30.0
POLL_S = 0.005
DIRECT_BUCKET = "elt-bench-direct"


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


# -- worker side -----------------------------------------------------------------------------


def measure(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry: `payload["objects"]` samples of each path, alternating."""
    # Powertools reads these when its modules load: one log line and one metric blob per
    # invocation would otherwise flood the terminal and cost time on our clock.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    from botocore.exceptions import ClientError

    from bench.data import DAY
    from elt_assets.cli.local.runner import LambdaRunner
    from elt_assets.cli.local.stack import make_client, start_stack
    from elt_assets.cli.samples import generate
    from lambda_bridge.contracts import ContractRegistry
    from lambda_bridge.keys import manifest_key, part_id
    from lambda_bridge.process import process_object

    body = generate("shipments", "jsonl", RECORDS_PER_OBJECT, seed=1, day=DAY).data
    stack = start_stack()
    ddb_calls: dict[str, int] = {}

    def count(model: Any, **_: Any) -> None:
        ddb_calls[model.name] = ddb_calls.get(model.name, 0) + 1

    # The runner's idempotency layer uses this same cached client, so its calls are counted.
    stack.client("dynamodb").meta.events.register("before-call.dynamodb", count)
    runner = LambdaRunner(stack).start()
    # Our own clients: the runner thread's clients are not shared with the measuring thread.
    s3 = make_client("s3", stack.endpoint)
    s3.create_bucket(Bucket=DIRECT_BUCKET)
    contract = ContractRegistry.load()["shipments"]
    bronze, silver = stack.settings.bronze_bucket, stack.settings.silver_bucket

    def wait_for(key: str, deadline: float) -> None:
        while time.perf_counter() < deadline:
            try:
                s3.head_object(Bucket=silver, Key=key)
                return
            except ClientError:
                time.sleep(POLL_S)
        msg = f"manifest {key} not visible after {MANIFEST_TIMEOUT_S:.0f}s"
        raise TimeoutError(msg)

    def pipeline(i: int) -> float:
        key = f"bronze/shipments/dt={DAY}/bench-{i:05d}.jsonl"
        manifest = manifest_key("shipments", DAY.isoformat(), part_id(bronze, key))
        start = time.perf_counter()
        s3.put_object(Bucket=bronze, Key=key, Body=body)
        wait_for(manifest, start + MANIFEST_TIMEOUT_S)
        return time.perf_counter() - start

    def direct(i: int) -> float:
        key = f"bronze/shipments/dt={DAY}/bench-{i:05d}.jsonl"
        start = time.perf_counter()
        version = s3.put_object(Bucket=DIRECT_BUCKET, Key=key, Body=body).get("VersionId")
        process_object(s3, contract, silver, DIRECT_BUCKET, key, version)
        return time.perf_counter() - start

    samples: dict[str, list[float]] = {"pipeline": [], "direct": []}
    try:
        for i in range(WARM_UP + payload["objects"]):
            through, straight = pipeline(i), direct(i)
            if i >= WARM_UP:
                samples["pipeline"].append(through)
                samples["direct"].append(straight)
        objects = WARM_UP + payload["objects"]
        runner.drain(timeout=MANIFEST_TIMEOUT_S)  # in flight: the completing UpdateItem
    finally:
        runner.stop()
        stack.stop()
    writes = sum(n for op, n in ddb_calls.items() if op in {"PutItem", "UpdateItem", "DeleteItem"})
    return {
        "samples": samples,
        "objects": objects,
        "ddb_calls": dict(sorted(ddb_calls.items())),
        "ddb_writes": writes,
        "poll_interval_s": runner.poll_interval,
    }


# -- main side -------------------------------------------------------------------------------


def section(answer: dict[str, Any]) -> Section:
    pipeline = [s * 1000 for s in answer["samples"]["pipeline"]]
    direct = [s * 1000 for s in answer["samples"]["direct"]]
    n = len(pipeline)
    figs = [
        Figure("latency", f"put_object -> manifest visible p50 ({RECORDS_PER_OBJECT} records, moto)",
               median(pipeline), "ms", "put_object + process_object directly, p50", median(direct)),
        Figure("latency", f"put_object -> manifest visible p95 ({RECORDS_PER_OBJECT} records, moto)",
               _p95(pipeline), "ms", "put_object + process_object directly, p95", _p95(direct)),
    ]  # fmt: skip
    body = "\n".join(
        [
            figure_table(figs),
            "",
            f"{n} objects of {RECORDS_PER_OBJECT} shipments (~{RECORDS_PER_OBJECT * 185 // 1000} KB),"
            " one at a time, on the embedded stack (`elt_assets.cli.local`: a moto server in the"
            " same process, `LambdaRunner` playing Lambda, polling every"
            f" {answer['poll_interval_s'] * 1000:.0f} ms). Timed from `put_object` until"
            " `head_object` finds the manifest (polled every 5 ms). The baseline puts the same"
            " object into a bucket without notifications and calls `process_object` directly,"
            " alternating with the pipeline samples; the ratio is what the notification, the"
            " ingest Lambda, the idempotency record and the queue hop add.",
            "",
            "**moto is slower than AWS**, and differently: every call is a local HTTP round trip"
            " into a Python server sharing one interpreter (and its GIL) with the runner and the"
            " handlers, and the runner's short polls stand in for Lambda's long polling. Read"
            " these as a regression signal for the hot path, not as AWS latencies.",
        ]
    )
    return Section(5, "Hot path latency (embedded stack)", figs, body)
