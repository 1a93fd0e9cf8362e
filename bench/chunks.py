"""Section 8: large objects and replays (DESIGN §12).

- Peak memory of a split object: a JSONL object of >= 2 GB (quick: ~256 MB) split into
  ELT_CHUNK_BYTES byte ranges (64 MiB, the default; quick: 16 MiB), each chunk transformed by
  `process_object` in a fresh process as a Lambda runs it, against one object the size of a
  chunk (the first chunk's lines, whole) in a fresh process.
- Peak memory of a gzip JSONL object, which cannot be split by bytes and is streamed through
  one transform in blocks: ~1 GB decompressed (quick: ~250 MB) against ~100 MB (quick: ~25 MB),
  each in a fresh process.
- Throughput of the chunked path: every chunk of a ~200 MB object (quick: ~20 MB) one after
  another against `process_object` of the whole object, interleaved in one process.
- Replay of one partition of small objects on the embedded stack: `replay_partition` with its
  pool, and through the events queue with `LambdaRunner` playing the transform Lambda, each
  against the same replay with one worker, interleaved in one process.

Every part talks to a moto server in a process of its own, so the measured processes neither
pay for serving S3 nor count the objects moto holds.
"""

import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import (
    DATA_DIR,
    MB,
    MIB,
    Figure,
    at_least,
    at_most,
    median,
    moto_server,
    peak_mib,
    run_worker,
)
from bench.data import CHUNK_RECORDS, DAY, bronze_file
from bench.report import Section, figure_table, number
from lambda_bridge.chunks import DEFAULT_CHUNK_BYTES

SIZES = {
    "quick": {"big_bytes": 256 * MB, "chunk_bytes": 16 * MIB, "records": 110_000,
              "throughput_chunk_bytes": 4 * MIB, "replay_objects": 50,
              "gzip_small": 25 * MB, "gzip_large": 250 * MB},
    "full": {"big_bytes": 2000 * MB, "chunk_bytes": DEFAULT_CHUNK_BYTES, "records": 1_100_000,
             "throughput_chunk_bytes": 32 * MIB, "replay_objects": 200,
             "gzip_small": 100 * MB, "gzip_large": 1000 * MB},
}  # fmt: skip
RECORDS_PER_REPLAY_OBJECT = 500
# Chunk processes at once: Lambda runs a split object's chunks side by side; this machine has
# two cores, and each process's peak is its own whatever runs beside it.
CHUNK_PROCESSES = 2
# Timed rounds of the replays, however many `runs` the other figures take: a full round is
# three replays of 200 objects.
REPLAY_RUNS = 3
# Fresh processes of the baseline (one chunk-sized object, whole): its figure is their median.
BASELINE_RUNS = 3
BRONZE, SILVER = "bench-chunks-bronze", "bench-chunks-silver"
UPLOAD_PART_BYTES = 64 * MIB
DATASET = "shipments"


def _phase(text: str) -> None:
    print(f"    [chunks] {text}", file=sys.stderr, flush=True)


def _lambda_env(endpoint: str) -> dict[str, str]:
    """What a worker needs to reach the server as a Lambda reaches S3: boto3's own variables."""
    from elt_assets.cli.local.stack import CREDENTIALS, REGION

    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **CREDENTIALS,
        # One metric blob and log line per object would flood the terminal.
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }


# -- data ------------------------------------------------------------------------------------


def big_file(target_bytes: int) -> Path:
    """A JSONL file of at least `target_bytes`: section 1's ~20 MB file of shipments repeated
    (see `bench.data`), cached under bench/data/, written without holding it in memory.
    """
    block = bronze_file(CHUNK_RECORDS, 0.0)
    repeats = -(-target_bytes // block.stat().st_size)
    path = DATA_DIR / f"{block.stem}-x{repeats}.jsonl"
    if path.exists():
        return path
    _phase(f"writing {path.name} ({repeats} x {block.stat().st_size / MB:.0f} MB, cached)")
    data = block.read_bytes()
    # Write then rename, so an interrupted run never leaves a truncated file under its name.
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with partial.open("wb") as out:
        for _ in range(repeats):
            out.write(data)
    partial.replace(path)
    return path


def _first_chunk_lines(path: Path, chunk_bytes: int) -> bytes:
    """The lines chunk 0 owns: those that start in its range, the last one read to its end."""
    with path.open("rb") as source:
        data = source.read(chunk_bytes)
        return data if data.endswith(b"\n") else data + source.readline()


# -- worker side -----------------------------------------------------------------------------


def measure(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry: one chunk's peak RSS, the chunked-path throughput, or the replays."""
    task = payload["task"]
    if task == "rss":
        return _rss(payload)
    if task == "throughput":
        return _throughput(payload)
    return _replays(payload)


def _rss(payload: dict[str, Any]) -> dict[str, Any]:
    """One chunk (or one whole object) as a transform Lambda runs it, in this fresh process."""
    import boto3

    # The handler module, so the peak includes what a warm transform Lambda has loaded.
    import lambda_bridge.transform  # noqa: F401
    from lambda_bridge.chunks import Chunk
    from lambda_bridge.contracts import ContractRegistry
    from lambda_bridge.process import process_object

    s3 = boto3.client("s3")  # AWS_ENDPOINT_URL names the server, as on the embedded stack
    contract = ContractRegistry.load()[DATASET]
    chunk = Chunk(**payload["chunk"]) if payload["chunk"] else None
    before = peak_mib()
    outcome = process_object(
        s3, contract, SILVER, BRONZE, payload["key"], payload["version_id"], chunk=chunk,
        chunk_bytes=payload["chunk_bytes"],
    )  # fmt: skip
    peak = peak_mib()
    assert outcome.status == "processed" and outcome.manifest is not None, outcome
    manifest = outcome.manifest
    return {
        "before_mib": before,
        "peak_mib": peak,
        "lines_in": manifest["lines_in"],
        "rows_out": manifest["rows_out"],
        "rows_quarantined": manifest["rows_quarantined"],
        "bytes": (chunk.end - chunk.start) if chunk else manifest["source"]["size"],
    }


MANIFEST_READS = "GetObject of a manifest"  # counted apart, within GetObject


def _count_requests(client: Any) -> dict[str, int]:
    """A live count of the S3 requests `client` makes, by operation, and of its manifest reads
    under `MANIFEST_READS` (also counted as GetObject: leave it out of a total)."""
    from lambda_bridge.keys import MANIFESTS_ROOT

    counts: dict[str, int] = {}

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:
        counts[model.name] = counts.get(model.name, 0) + 1
        if model.name == "GetObject" and str(params.get("Key", "")).startswith(MANIFESTS_ROOT):
            counts[MANIFEST_READS] = counts.get(MANIFEST_READS, 0) + 1

    client.meta.events.register("before-parameter-build.s3", count)
    return counts


def _total(counts: dict[str, int]) -> int:
    return sum(n for name, n in counts.items() if name != MANIFEST_READS)


def _throughput(payload: dict[str, Any]) -> dict[str, Any]:
    """All chunks of one object, one after another, against the same bytes processed whole.

    Two keys holding the same bytes: a whole object and its chunk 0 share their output keys, so
    on one key each candidate would find (and clean up after) the other's outputs.
    """
    import boto3
    from boto3.s3.transfer import TransferConfig

    from bench.ours import ours
    from lambda_bridge.chunk_reader import read_chunk
    from lambda_bridge.chunks import plan_chunks
    from lambda_bridge.contracts import ContractRegistry
    from lambda_bridge.process import process_object

    s3 = boto3.client("s3")
    _make_buckets(s3)
    contract = ContractRegistry.load()[DATASET]
    chunk_bytes = payload["chunk_bytes"]
    keys = {name: f"bronze/{DATASET}/dt={DAY}/{name}.jsonl" for name in ("whole", "chunked")}
    config = TransferConfig(multipart_chunksize=UPLOAD_PART_BYTES)
    for key in keys.values():
        s3.upload_file(payload["path"], BRONZE, key, Config=config)
    size = Path(payload["path"]).stat().st_size
    plan = plan_chunks(keys["chunked"], size, chunk_bytes)
    assert plan is not None and len(plan) > 1, (size, chunk_bytes)

    def whole() -> int:
        outcome = process_object(s3, contract, SILVER, BRONZE, keys["whole"])
        assert outcome.manifest is not None, outcome
        return outcome.manifest["rows_out"]

    def chunked() -> int:
        rows = 0
        for chunk in plan:
            outcome = process_object(
                s3, contract, SILVER, BRONZE, keys["chunked"], chunk=chunk, chunk_bytes=chunk_bytes
            )
            assert outcome.manifest is not None, outcome
            rows += outcome.manifest["rows_out"]
        return rows

    requests = _count_requests(s3)
    candidates: dict[str, Callable[[], int]] = {"whole": whole, "chunked": chunked}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    rows: dict[str, int] = {}
    calls: dict[str, int] = {}
    for i in range(payload["runs"] + 1):  # round 0 warms up both and is dropped
        # Alternate who goes first, so neither always finds the other's leftovers in the caches.
        for name in ("whole", "chunked") if i % 2 == 0 else ("chunked", "whole"):
            requests.clear()
            started = time.perf_counter()
            rows[name] = candidates[name]()
            if i:
                samples[name].append(time.perf_counter() - started)
                calls[name] = _total(requests)
    assert rows["whole"] == rows["chunked"], rows

    # Apart, to say where the difference goes: the GETs alone (moto answers a ranged GET by
    # reading the whole object, then slicing it), and the CPU work alone, the bytes in memory.
    reads: dict[str, list[float]] = {"whole": [], "chunked": []}
    bodies: dict[str, list[bytes]] = {}
    for _ in range(3):
        started = time.perf_counter()
        bodies["whole"] = [s3.get_object(Bucket=BRONZE, Key=keys["whole"])["Body"].read()]
        reads["whole"].append(time.perf_counter() - started)
        started = time.perf_counter()
        request = {"Bucket": BRONZE, "Key": keys["chunked"]}
        bodies["chunked"] = [read_chunk(s3, request, chunk)[0] for chunk in plan]
        reads["chunked"].append(time.perf_counter() - started)
    cpu: dict[str, list[float]] = {"whole": [], "chunked": []}
    for i in range(3):
        for name in ("whole", "chunked") if i % 2 == 0 else ("chunked", "whole"):
            started = time.perf_counter()
            assert sum(ours(body).rows_out for body in bodies[name]) == rows[name]
            cpu[name].append(time.perf_counter() - started)
    return {
        "bytes": size,
        "rows": rows["whole"],
        "chunks": len(plan),
        "chunk_bytes": chunk_bytes,
        "requests": calls,
        **{f"{name}_s": median(s) for name, s in samples.items()},
        **{f"{name}_read_s": median(s) for name, s in reads.items()},
        **{f"{name}_cpu_s": median(s) for name, s in cpu.items()},
    }


def _replays(payload: dict[str, Any]) -> dict[str, Any]:
    """One partition of small objects replayed three ways, interleaved round by round."""
    import contextlib

    from elt_assets.cli.local.runner import LambdaRunner
    from elt_assets.cli.local.stack import ResourceNames, provision
    from elt_assets.cli.samples import generate
    from elt_assets.lib.replay import (
        REPLAY_WORKERS,
        finish_partition,
        replay_partition,
        send_partition,
        wait_for_partitions,
    )
    from lambda_bridge.contracts import ContractRegistry

    stack = provision(payload["endpoint"], ResourceNames("bench-chunks-replay"))
    os.environ.update(stack.env())
    s3, sqs = stack.client("s3"), stack.client("sqs")
    bronze, silver = stack.settings.bronze_bucket, stack.settings.silver_bucket
    contract = ContractRegistry.load()[DATASET]
    objects, day = payload["objects"], DAY.isoformat()
    # Old data being replayed, not new arrivals: the hot path must not process the fill. And no
    # landings notification: moto sends it inside each manifest's PUT, where S3 sends it later,
    # off the writer's clock (nothing here reads the landings queue).
    for bucket in (bronze, silver):
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    bronze_bytes = 0
    for i in range(objects):
        body = generate(DATASET, count=RECORDS_PER_REPLAY_OBJECT, seed=i, day=DAY).data
        s3.put_object(Bucket=bronze, Key=f"bronze/{DATASET}/dt={day}/r-{i:04d}.jsonl", Body=body)
        bronze_bytes += len(body)
    runner = LambdaRunner(stack)
    requests = _count_requests(s3)
    queue_phases: dict[str, list[float]] = {"send": [], "wait": [], "finish": []}

    def sequential() -> Any:
        return replay_partition(s3, contract, bronze, silver, day, workers=1)

    def concurrent() -> Any:
        return replay_partition(s3, contract, bronze, silver, day)

    def via_queue() -> Any:
        started = time.perf_counter()
        sent = send_partition(s3, sqs, stack.settings.queue_url, contract, bronze, day)
        queue_phases["send"].append(time.perf_counter() - started)
        # As `elt replay --via-queue` waits: the partition's manifests polled every second.
        started = time.perf_counter()
        waiting = wait_for_partitions(s3, silver, bronze, DATASET, [sent], timeout=600)
        queue_phases["wait"].append(time.perf_counter() - started)
        assert not waiting, waiting[:3]
        started = time.perf_counter()
        summary = finish_partition(s3, contract, bronze, silver, sent)
        queue_phases["finish"].append(time.perf_counter() - started)
        return summary

    candidates = {"sequential": sequential, "concurrent": concurrent, "via_queue": via_queue}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    names = list(candidates)
    sequential()  # the warm-up: clients, connections, and every object's outputs in place
    counted: dict[str, dict[str, int]] = {}  # each candidate's S3 requests, in its last round
    # Powertools prints its metrics once 100 have accumulated, POWERTOOLS_METRICS_DISABLED or
    # not (its auto-flush does not look at it), and the runner adds three an object.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        for i in range(payload["runs"]):
            for name in names[i % 3 :] + names[: i % 3]:
                # The runner polls only while its replay runs: idle, its polls would load the
                # server and this process during the others' replays.
                if name == "via_queue":
                    runner.start()
                requests.clear()
                try:
                    started = time.perf_counter()
                    summary = candidates[name]()
                    samples[name].append(time.perf_counter() - started)
                finally:
                    runner.stop()
                counted[name] = dict(requests)
                assert summary.objects == objects, (name, summary)
                assert summary.rows_out == objects * RECORDS_PER_REPLAY_OBJECT, (name, summary)
    return {
        "objects": objects,
        "bronze_bytes": bronze_bytes,
        "workers": REPLAY_WORKERS,
        "requests_per_object": {name: _total(c) / objects for name, c in counted.items()},
        "manifest_reads_per_object": {
            name: c.get(MANIFEST_READS, 0) / objects for name, c in counted.items()
        },
        "batches": runner.stats.transform_batches,
        "messages": runner.stats.messages_succeeded,
        **{f"{name}_s": median(s) for name, s in samples.items()},
        **{f"queue_{name}_s": median(s) for name, s in queue_phases.items()},
    }


# -- parent side -----------------------------------------------------------------------------


def _chunk_peaks(path: Path, chunk_bytes: int) -> dict[str, Any]:
    """Every chunk of `path` in a fresh process, and one chunk-sized object whole in another."""
    import boto3
    from boto3.s3.transfer import TransferConfig

    from lambda_bridge.chunks import plan_chunks

    size = path.stat().st_size
    key = f"bronze/{DATASET}/dt={DAY}/{path.name}"
    one_key = f"bronze/{DATASET}/dt={DAY}/one-chunk.jsonl"
    with moto_server() as endpoint:
        env = _lambda_env(endpoint)
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )  # fmt: skip
        _make_buckets(s3)
        started = time.perf_counter()
        s3.upload_file(
            str(path), BRONZE, key, Config=TransferConfig(multipart_chunksize=UPLOAD_PART_BYTES)
        )
        version = s3.head_object(Bucket=BRONZE, Key=key)["VersionId"]
        upload_s = time.perf_counter() - started
        one = _first_chunk_lines(path, chunk_bytes)
        one_version = s3.put_object(Bucket=BRONZE, Key=one_key, Body=one)["VersionId"]
        del one
        plan = plan_chunks(key, size, chunk_bytes)
        assert plan is not None, (size, chunk_bytes)
        _phase(
            f"{size / MB:,.0f} MB object on moto in {upload_s:.0f} s; {len(plan)} chunks of"
            f" {chunk_bytes / MIB:.0f} MiB, {CHUNK_PROCESSES} processes at a time"
        )

        def run(chunk: Any) -> dict[str, Any]:
            return run_worker(
                "chunks",
                {"task": "rss", "key": key if chunk else one_key,
                 "version_id": version if chunk else one_version,
                 "chunk": chunk.to_dict() if chunk else None, "chunk_bytes": chunk_bytes},
                env=env,
            )  # fmt: skip

        # The baseline's runs go through the same pool, spread among the chunks, so they share
        # the cores with a neighbour as the chunks do (a process's peak moves with how its
        # threads interleave).
        tasks: list[Any] = list(plan)
        for i in reversed(range(BASELINE_RUNS)):
            tasks.insert(i * len(plan) // max(BASELINE_RUNS - 1, 1), None)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CHUNK_PROCESSES) as pool:
            answers = list(pool.map(run, tasks))
        chunks_s = time.perf_counter() - started
    chunks = [a for task, a in zip(tasks, answers, strict=True) if task is not None]
    baselines = sorted(
        (a for task, a in zip(tasks, answers, strict=True) if task is None),
        key=lambda a: a["peak_mib"],
    )
    baseline = baselines[len(baselines) // 2]  # the median run
    records = CHUNK_RECORDS * (size // bronze_file(CHUNK_RECORDS, 0.0).stat().st_size)
    assert sum(c["lines_in"] for c in chunks) == records, (records, chunks)
    assert sum(c["rows_out"] for c in chunks) == records, (records, chunks)
    assert chunks[0]["lines_in"] == baseline["lines_in"], (chunks[0], baseline)
    return {
        "bytes": size,
        "records": records,
        "chunk_bytes": chunk_bytes,
        "upload_s": upload_s,
        "chunks_s": chunks_s,
        "baseline": baseline,
        "baseline_peaks_mib": [a["peak_mib"] for a in baselines],
        "chunks": chunks,
    }


def gzip_file(source: Path, decompressed_bytes: int) -> Path:
    """The first whole lines of `source` up to `decompressed_bytes`, gzip-compressed (cached)."""
    import gzip

    path = DATA_DIR / f"{source.stem}-first{decompressed_bytes // MB}MB.jsonl.gz"
    if path.exists():
        return path
    _phase(f"writing {path.name} (cached)")
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    written = 0
    with source.open("rb") as lines, gzip.open(partial, "wb", compresslevel=1) as out:
        for line in lines:
            if written + len(line) > decompressed_bytes:
                break
            out.write(line)
            written += len(line)
    partial.replace(path)
    return path


def _gzip_peaks(source: Path, small_bytes: int, large_bytes: int) -> dict[str, Any]:
    """A gzip JSONL object streamed through one transform, in a fresh process, at two sizes."""
    import boto3

    answers: dict[str, Any] = {}
    with moto_server() as endpoint:
        env = _lambda_env(endpoint)
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )  # fmt: skip
        _make_buckets(s3)
        for label, target in (("small", small_bytes), ("large", large_bytes)):
            path = gzip_file(source, target)
            key = f"bronze/{DATASET}/dt={DAY}/{path.name}"
            s3.upload_file(str(path), BRONZE, key)
            version = s3.head_object(Bucket=BRONZE, Key=key)["VersionId"]
            answers[label] = run_worker(
                "chunks",
                {"task": "rss", "key": key, "version_id": version, "chunk": None,
                 "chunk_bytes": DEFAULT_CHUNK_BYTES},
                env=env,
            )  # fmt: skip
            answers[label]["decompressed"] = target
            answers[label]["compressed"] = path.stat().st_size
    return answers


def section(runs: int, quick: bool) -> Section:
    size = SIZES["quick" if quick else "full"]
    big = big_file(size["big_bytes"])
    peaks = _chunk_peaks(big, size["chunk_bytes"])
    _phase(f"gzip streamed: {size['gzip_small'] / MB:.0f} MB vs {size['gzip_large'] / MB:.0f} MB")
    gz = _gzip_peaks(big, size["gzip_small"], size["gzip_large"])
    medium = bronze_file(size["records"], 0.0)
    with moto_server() as endpoint:
        _phase(f"chunked vs whole on {medium.stat().st_size / MB:.0f} MB, {runs} runs of each")
        env = _lambda_env(endpoint)
        speed = run_worker(
            "chunks",
            {"task": "throughput", "path": str(medium),
             "chunk_bytes": size["throughput_chunk_bytes"], "runs": runs},
            env=env,
        )  # fmt: skip
        _phase(f"replays of {size['replay_objects']} objects, {REPLAY_RUNS} rounds")
        replays = run_worker(
            "chunks",
            {"task": "replays", "endpoint": endpoint, "objects": size["replay_objects"],
             "runs": REPLAY_RUNS},
            env=env,
        )  # fmt: skip
    figures = _figures(peaks, speed, replays)
    small, large = gz["small"], gz["large"]
    figures.insert(1, Figure(
        "chunks", f"peak RSS of a gzip JSONL object streamed through one transform,"
        f" {large['decompressed'] / MB:,.0f} MB decompressed ({large['compressed'] / MB:.0f} MB gzip)",
        large["peak_mib"], "MiB",
        baseline=f"the same for {small['decompressed'] / MB:,.0f} MB decompressed",
        baseline_value=small["peak_mib"], target=at_most(1.3),
        note=f"{large['lines_in']:,} vs {small['lines_in']:,} lines, every one in silver",
    ))  # fmt: skip
    assert large["rows_out"] == large["lines_in"] and small["rows_out"] == small["lines_in"]
    return Section(
        8, "Large objects and replays", figures, _body(figures, peaks, speed, replays, runs)
    )


def _make_buckets(s3: Any) -> None:
    """The bronze and silver buckets, versioned as the pipeline's are."""
    for bucket in (BRONZE, SILVER):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _figures(peaks: dict[str, Any], speed: dict[str, Any], replays: dict[str, Any]) -> list[Figure]:
    worst = max(peaks["chunks"], key=lambda c: c["peak_mib"])
    chunk_mib = peaks["chunk_bytes"] / MIB
    big = f"{peaks['bytes'] / MB:,.0f} MB JSONL object"
    mb, objects = speed["bytes"] / MB, replays["objects"]
    partition = f"{objects}-object partition ({RECORDS_PER_REPLAY_OBJECT} records each)"
    return [
        Figure("chunks", f"peak RSS of the worst chunk, {big} in {len(peaks['chunks'])} chunks of"
               f" {chunk_mib:.0f} MiB, one process each", worst["peak_mib"], "MiB",
               baseline=f"peak RSS of one {chunk_mib:.0f} MiB object (the first chunk's lines)"
               " processed whole", baseline_value=peaks["baseline"]["peak_mib"],
               target=at_most(1.5)),
        Figure("chunks", f"chunked path throughput, {mb:.0f} MB object in {speed['chunks']}"
               f" chunks of {speed['chunk_bytes'] / MIB:.0f} MiB, one after another",
               mb / speed["chunked_s"], "MB/s", baseline="process_object of the whole object",
               baseline_value=mb / speed["whole_s"], target=at_least(0.8)),
        Figure("chunks", f"in-process replay, {replays['workers']} workers, {partition}",
               objects / replays["concurrent_s"], "objects/s",
               baseline="the same replay_partition with workers=1",
               baseline_value=objects / replays["sequential_s"], target=at_least(1.0)),
        Figure("chunks", f"replay via queue (LambdaRunner, one transform at a time), {partition}",
               objects / replays["via_queue_s"], "objects/s",
               baseline="the same replay_partition with workers=1",
               baseline_value=objects / replays["sequential_s"],
               note="the embedded stack plays one Lambda; AWS runs many"),
    ]  # fmt: skip


def _body(
    figures: list[Figure],
    peaks: dict[str, Any],
    speed: dict[str, Any],
    replays: dict[str, Any],
    runs: int,
) -> str:
    return "\n\n".join(
        [
            figure_table(figures),
            "Every part talks to a moto server in a process of its own (`python -m moto.server` on"
            " loopback; a fresh one for the split object), so the measured processes neither serve"
            " S3 nor count what it stores; the buckets are versioned, as the pipeline's are.",
            _memory_text(peaks),
            _throughput_text(speed, runs),
            _replay_text(replays),
        ]
    )


def _memory_text(peaks: dict[str, Any]) -> str:
    from bench.memory import HEADROOM, lambda_memory_mb

    chunks, baseline = peaks["chunks"], peaks["baseline"]
    count, chunk_mib = len(chunks), peaks["chunk_bytes"] / MIB
    ranked = sorted(range(count), key=lambda i: chunks[i]["peak_mib"])
    worst, middle = ranked[-1], ranked[count // 2]
    named = {
        count - 1: "last chunk, the object's tail",
        middle: "median chunk",
        worst: "worst chunk",
    }
    rows = [("one chunk-sized object, whole (baseline, median run)", baseline)] + [
        (f"{named[i]} (chunk {i} of {count})", chunks[i])
        for i in sorted(named, key=ranked.index)[::-1]
    ]
    runtime = median([c["before_mib"] for c in chunks])
    worst_peak = chunks[worst]["peak_mib"]
    rest = worst_peak - chunks[worst]["before_mib"] - chunks[worst]["bytes"] / MIB
    setting = (
        "the default ELT_CHUNK_BYTES"
        if peaks["chunk_bytes"] == DEFAULT_CHUNK_BYTES
        else f"ELT_CHUNK_BYTES for this smaller run; the default is {DEFAULT_CHUNK_BYTES // MIB} MiB"
    )
    return "\n".join(
        [
            f"**A split object's memory.** The object: {peaks['bytes'] / MB:,.0f} MB of clean"
            f" shipments ({peaks['records']:,} records: section 1's ~20 MB file repeated), put on"
            f" the server by a multipart upload ({number(peaks['upload_s'])} s). `plan_chunks`"
            f" cuts it into {count} chunks of {chunk_mib:.0f} MiB ({setting}). Each chunk is"
            " `process_object(...,"
            " version_id, chunk=...)`, what the transform Lambda runs for one chunk's pointer"
            " message, in a fresh process that first imports `lambda_bridge.transform` (the"
            " handler module: boto3, Powertools, pyarrow, polars), makes its S3 client from"
            f" `AWS_ENDPOINT_URL` and loads the contracts; {CHUNK_PROCESSES} processes run at a"
            f" time, as Lambda runs a split object's chunks side by side ({number(peaks['chunks_s'])}"
            " s for all; each process's peak is its own). The baseline is chunk 0's lines (its"
            f" {chunk_mib:.0f} MiB read on to the end of its last line) put as an object of their"
            " own and processed whole the same way: the same records, the same runtime, in"
            f" {BASELINE_RUNS} fresh processes that go through the same pool, spread among the"
            " chunks' (a process's peak moves with how its threads and its neighbour's interleave);"
            " its figure is their median (peaks:"
            f" {', '.join(f'{v:.0f}' for v in peaks['baseline_peaks_mib'])} MiB). Checked: the"
            " chunks' lines add up to the object's records, all of them rows out, and chunk 0"
            " reads as many lines as the baseline object holds. Peak RSS is `VmHWM` (section 7"
            " says why not `ru_maxrss`).",
            "",
            "| Process | Bytes | RSS after imports, client, contracts | Peak RSS | Own"
            " | Own / bytes |",
            "|---|---:|---:|---:|---:|---:|",
            *(
                f"| {name} | {a['bytes'] / MIB:,.1f} MiB | {number(a['before_mib'])} MiB"
                f" | {number(a['peak_mib'])} MiB | {number(a['peak_mib'] - a['before_mib'])} MiB"
                f" | {(a['peak_mib'] - a['before_mib']) / (a['bytes'] / MIB):.1f} |"
                for name, a in rows
            ),
            "",
            f"So a chunk's peak is the runtime (~{runtime:.0f} MiB: the interpreter, boto3,"
            " Powertools, pyarrow, polars, one client and the contracts), plus the chunk's bytes"
            f" ({chunk_mib:.0f} MiB, held while they are parsed), plus what the parse and the"
            f" Parquet write build from them (the other {rest:.0f} MiB of the worst chunk's own);"
            " nothing in it follows the object's size. Before the parse, `read_chunk` copies the"
            " chunk's bytes up to twice (to drop the line that began in the chunk before, and to"
            " join the tail of its last line on); the chunks, of the same records, peak"
            f" between {chunks[ranked[0]]['peak_mib']:.0f} and {worst_peak:.0f} MiB, the worst"
            f" {worst_peak - baseline['peak_mib']:+.0f} MiB from the baseline. By section 2's rule"
            f" (worst peak × {HEADROOM}, in 128 MB steps), Lambdas of"
            f" **{lambda_memory_mb(worst_peak):,} MB** transform this {peaks['bytes'] / MB:,.0f} MB"
            " object, and any larger one.",
        ]
    )


def _throughput_text(speed: dict[str, Any], runs: int) -> str:
    mb, count = speed["bytes"] / MB, speed["chunks"]
    gap = speed["chunked_s"] - speed["whole_s"]
    moto = speed["chunked_read_s"] - speed["whole_read_s"]
    cpu = speed["chunked_cpu_s"] - speed["whole_cpu_s"]
    rows = (
        ("S3 requests in one run", "requests", lambda name: f"{speed['requests'][name]:,}"),
        ("`process_object`, all of it (the timed runs)", "s", lambda name: speed[f"{name}_s"]),
        ("the GETs alone (the same bytes read, nothing else)", "s",
         lambda name: speed[f"{name}_read_s"]),
        ("the CPU work alone (`bench.ours` on the bytes in memory)", "s",
         lambda name: speed[f"{name}_cpu_s"]),
    )  # fmt: skip
    return "\n".join(
        [
            f"**Chunked throughput.** Section 1's {mb:.0f} MB clean file, put on the server twice,"
            " under two keys: a whole object and its chunk 0 share their output keys, so on one"
            " key each candidate would clean up after the other. **Chunked**: `process_object(...,"
            f" chunk=c)` for each of its {count} chunks of {speed['chunk_bytes'] / MIB:.0f} MiB in"
            " turn (what one Lambda would do if it got every chunk's message); **whole**:"
            " `process_object` of the other key, with no `max_bytes`. MB/s of bronze bytes, the"
            f" median of {runs} runs of each after a warm-up round, interleaved in one process;"
            " both write the same rows. On AWS a split object's chunks run in Lambdas side by"
            " side, so its wall time is about one chunk's: this figure is the cost per byte of"
            " splitting, not the latency. Where the difference goes, measured apart in the same"
            " process afterwards (medians of 3):",
            "",
            "| | whole | chunked |",
            "|---|---:|---:|",
            *(
                f"| {label} | {_cell(get('whole'), unit)} | {_cell(get('chunked'), unit)} |"
                for label, unit, get in rows
            ),
            "",
            "moto answers a ranged GET by reading the whole object out of its store and then"
            " slicing it (`S3Response.get_object` returns `key.value`, which `_handle_range_header`"
            f" cuts), so here each chunk pays for reading all {mb:.0f} MB, twice when its last"
            " line runs past its end (the tail is a second ranged GET); S3 charges for the range"
            f" alone. Of the chunked path's {number(gap)} s more, {number(moto)} s is those reads"
            f" and {cpu:+.3f} s the CPU work (chunked minus whole); the rest,"
            f" {number(gap - moto - cpu)} s, is each chunk's own outputs and bookkeeping, about"
            f" {speed['requests']['chunked'] / count:.0f} requests a chunk (its ranged GETs, the"
            " index read, the manifest withdrawn and written, the Parquet PUT, the quarantine"
            " DELETE, the index write and the HEADs), in"
            f" {speed['requests']['chunked'] - speed['requests']['whole']} more requests than the"
            " whole object's.",
        ]
    )


def _cell(value: Any, unit: str) -> str:
    return value if isinstance(value, str) else f"{number(value)} {unit}"


def _replay_text(replays: dict[str, Any]) -> str:
    objects = replays["objects"]
    requests, manifests = replays["requests_per_object"], replays["manifest_reads_per_object"]
    columns = (
        ("sequential", "sequential"),
        ("in process", "concurrent"),
        ("via queue", "via_queue"),
    )
    sequential = requests["sequential"]
    return "\n".join(
        [
            f"**Replays.** {objects} objects of {RECORDS_PER_REPLAY_OBJECT} shipments"
            f" ({replays['bronze_bytes'] / objects / 1000:.0f} KB each) in one `dt=` partition of"
            " the embedded stack (`provision` on the same server: versioned buckets, the events"
            " queue and its DLQ, the idempotency table). Both buckets' notifications are off:"
            " bronze's while the objects are put, so the hot path does not process them first;"
            " silver's (the landings queue) throughout, because moto sends a notification inside"
            " the PUT that causes it, where S3 sends it afterwards, off the writer's clock. One"
            f" replay puts every object's outputs in place (a warm-up), then {REPLAY_RUNS} rounds"
            " of the three, the order rotating; each replay is checked to report every object and"
            " row.",
            "",
            "- **sequential**: `replay_partition(..., workers=1)`, one object after another.",
            "- **in process**: `replay_partition` with its default pool, REPLAY_WORKERS ="
            f" {replays['workers']} threads sharing one boto3 client.",
            "- **via queue**: `send_partition` (one pointer message an object), then"
            " `wait_for_partitions` polling the partition's manifests every second as `elt replay"
            " --via-queue` does, then `finish_partition` (totals, orphans), while `LambdaRunner`"
            " plays the transform Lambda in a thread of the same process: batches of 10, one at a"
            " time, started before the replay and stopped after it. Of its median,"
            f" {number(replays['queue_send_s'])} s went to sending, {number(replays['queue_wait_s'])}"
            f" s to waiting for the manifests and {number(replays['queue_finish_s'])} s to"
            " `finish_partition`.",
            "",
            "| | " + " | ".join(label for label, _ in columns) + " |",
            "|---|" + "---:|" * len(columns),
            "| median seconds | "
            + " | ".join(f"{number(replays[f'{key}_s'])} s" for _, key in columns)
            + " |",
            "| S3 requests an object (last round) | "
            + " | ".join(f"{requests[key]:.1f}" for _, key in columns)
            + " |",
            "| of them, GETs of a manifest | "
            + " | ".join(f"{manifests[key]:.1f}" for _, key in columns)
            + " |",
            "",
            "Here each request is a loopback round trip to moto: little latency and much CPU, on"
            " two cores that this process and the server share, so the in-process ratio shows"
            " what the pool gains when the work is CPU-bound, net of what it costs; the target"
            " (>= 1) says only that the pool must not lose even with no latency to hide. On AWS"
            f" every S3 round trip waits ~20-50 ms, about {sequential * 20 / 1000:.1f}-"
            f"{sequential * 50 / 1000:.1f} s an object at {sequential:.0f} requests, which is what"
            " the pool is there to overlap; this bench cannot show that gain. The queue path has"
            " no target: the embedded stack plays one Lambda, so it does the same work one"
            " transform at a time, plus the messages, the polls (each lists the partition and"
            " reads every manifest in it again, answered or not) and `finish_partition` reading"
            " them once more; on AWS the event source mapping runs up to"
            " `transform_max_concurrency` (10 in envs/dev) transforms side by side.",
        ]
    )
