"""Section 7: gold models and the warehouse.

- Gold model throughput: `shipments_by_carrier` run by the project's model runner (`run_model`
  over `S3Tables`) on one silver partition of 10 files, against a bare polars
  `scan_parquet(...).group_by(...).agg(...).collect()` of the same objects on the same moto
  server, interleaved run by run in one process; then each once more in a fresh process for its
  peak RSS.
- Warehouse load: `load_partition` of silver rows into a real PostgreSQL, against psql's
  `\\copy` of the same rows as CSV into the same table (and psycopg 3's COPY of that CSV).

The moto server runs in a process of its own, so neither candidate pays for serving S3 (nor
counts the objects moto holds in its peak RSS).
"""

import datetime as dt
import hashlib
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    DATA_DIR,
    MB,
    Figure,
    at_least,
    median,
    moto_server,
    peak_mib,
    run_worker,
)
from bench.report import Section, figure_table, number

DAY = "2026-05-01"
FILES = 10
MODEL = "shipments_by_carrier"
BUCKET = "bench-gold-silver"
SCHEMA, TABLE = "silver", "shipments"
# Records per silver file, and rows loaded into the warehouse. Silver shipments are ~14 bytes a
# row, so a partition is ~18 MB (quick: 110k records, section 1's small bronze file) or ~200 MB.
SIZES = {
    "quick": {"records_per_file": 110_000, "warehouse_rows": 50_000},
    "full": {"records_per_file": 1_500_000, "warehouse_rows": 300_000},
}
INGESTED_AT = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)


def _phase(text: str) -> None:
    print(f"    [gold] {text}", file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------


def _pipeline_fingerprint() -> str:
    """A change to the generator, the parser or the silver writer must not hide behind a cache."""
    from elt_assets.cli import samples
    from lambda_bridge import parse, silver

    source = "".join(inspect.getsource(m) for m in (samples, parse, silver))
    return hashlib.sha256(source.encode()).hexdigest()[:8]


def silver_files(records_per_file: int) -> list[Path]:
    """The silver partition: `FILES` Parquet files, cached under bench/data/.

    Each is one bronze object of `records_per_file` shipments (`bench.data.bronze_file`) made
    into silver as `process_object` does it: `parse_object`, `with_lineage` (its own source key,
    version and ingestion time), `to_parquet`. The objects hold the same records, so the file is
    parsed once.
    """
    from bench.data import bronze_file
    from lambda_bridge.contracts import ContractRegistry
    from lambda_bridge.parse import parse_object
    from lambda_bridge.silver import to_parquet, with_lineage

    folder = DATA_DIR / f"silver-shipments-{FILES}x{records_per_file}r-{_pipeline_fingerprint()}"
    if folder.is_dir():
        return sorted(folder.glob("*.parquet"))
    _phase(f"making {FILES} silver files of {records_per_file:,} shipments (cached afterwards)")
    contract = ContractRegistry.load()["shipments"]
    result = parse_object(bronze_file(records_per_file, 0.0).read_bytes(), contract, "jsonl")
    # Write then rename, so an interrupted run never leaves a partial partition under its name.
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for i in range(FILES):
        table = with_lineage(
            result,
            contract,
            f"bronze/shipments/dt={DAY}/batch-{i:02d}.jsonl",
            f"version-{i:02d}",
            INGESTED_AT + dt.timedelta(minutes=i),
        )
        (partial / f"part-{i:02d}.parquet").write_bytes(to_parquet(table, contract))
    partial.replace(folder)
    return sorted(folder.glob("*.parquet"))


def _silver_key(path: Path) -> str:
    return f"silver/shipments/dt={DAY}/{path.name}"


# -- worker side -----------------------------------------------------------------------------


def measure(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry: `task` is `models` (both candidates timed), `rss` (one candidate's peak)
    or `warehouse` (the three loads timed)."""
    task = payload["task"]
    if task == "models":
        return _time_models(payload)
    if task == "rss":
        return _rss(payload)
    if task == "warehouse":
        return _time_warehouse(payload)
    msg = f"unknown gold task {task!r}"
    raise ValueError(msg)


def _ours(endpoint: str) -> Callable[[], tuple[Any, float]]:
    """Our model run as a callable: the model's rows and the seconds spent in `read_table`."""
    from elt_assets.cli.local.stack import make_client
    from elt_assets.lib.models import S3Tables, load_models, run_model
    from lambda_bridge.contracts import ContractRegistry

    registry = ContractRegistry.load()
    models = load_models(None, registry)
    model = next(m for m in models if m.name == MODEL)
    s3 = make_client("s3", endpoint)

    def run() -> tuple[Any, float]:
        tables = S3Tables(s3, BUCKET, registry, models)
        fetching = 0.0

        def read_table(layer: Any, name: str, days: Any) -> Any:
            nonlocal fetching
            started = time.perf_counter()
            frame = tables(layer, name, days)  # lists and GETs the objects; the scan is lazy
            fetching += time.perf_counter() - started
            return frame

        return run_model(model, DAY, read_table, registry), fetching

    return run


def _bare(endpoint: str) -> Callable[[], Any]:
    """The floor: polars reading the same objects through its own S3 client."""
    import polars as pl

    from elt_assets.cli.local.stack import CREDENTIALS, REGION

    options = {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_region": REGION,
        "aws_endpoint_url": endpoint,
        "aws_allow_http": "true",
    }
    source = f"s3://{BUCKET}/silver/shipments/dt={DAY}/*.parquet"

    def run() -> Any:
        return (
            pl.scan_parquet(source, storage_options=options)
            .group_by("carrier")
            .agg(pl.len().alias("shipments"), pl.col("weight_kg").sum().alias("total_kg"))
            .sort("carrier")
            .collect()
        )

    return run


def _same_answer(ours: Any, bare: Any) -> None:
    got = {r["carrier"]: (r["shipments"], r["total_kg"]) for r in ours.to_pylist()}
    want = {r["carrier"]: (r["shipments"], r["total_kg"]) for r in bare.to_dicts()}
    assert got.keys() == want.keys(), (got, want)
    for carrier, (count, kg) in want.items():
        assert got[carrier][0] == count, (carrier, got[carrier], count)
        assert abs(got[carrier][1] - kg) <= 1e-9 * abs(kg), (carrier, got[carrier], kg)


def _time_models(payload: dict[str, Any]) -> dict[str, Any]:
    ours, bare = _ours(payload["endpoint"]), _bare(payload["endpoint"])
    _same_answer(ours()[0], bare())  # also the warm-up: clients, connections, polars' pool
    ours_s, fetch_s, bare_s = [], [], []
    for i in range(payload["runs"]):
        # Alternate who goes first, so neither always finds the other's leftovers in the caches.
        for candidate in ("ours", "bare") if i % 2 == 0 else ("bare", "ours"):
            started = time.perf_counter()
            if candidate == "ours":
                _, fetching = ours()
                ours_s.append(time.perf_counter() - started)
                fetch_s.append(fetching)
            else:
                bare()
                bare_s.append(time.perf_counter() - started)
    return {"ours_s": median(ours_s), "fetch_s": median(fetch_s), "bare_s": median(bare_s)}


def _rss(payload: dict[str, Any]) -> dict[str, Any]:
    run = (
        _ours(payload["endpoint"]) if payload["candidate"] == "ours" else _bare(payload["endpoint"])
    )
    before = peak_mib()
    run()
    return {"before_mib": before, "peak_mib": peak_mib()}


def _time_warehouse(payload: dict[str, Any]) -> dict[str, Any]:
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from elt_assets.lib.warehouse import DT_COLUMN, load_partition

    url, day = payload["url"], dt.date.fromisoformat(DAY)
    # As the warehouse asset reads a silver file (`partition_table`): pyarrow, no casts.
    table = pq.read_table(payload["path"]).slice(0, payload["rows"])
    load_partition(url, SCHEMA, TABLE, day, table)  # creates the schema, table and index
    target = f'"{SCHEMA}"."{TABLE}"'
    with psycopg.connect(url) as conn:
        expected = conn.execute(
            f"SELECT count(*), sum(_line), count(carrier) FROM {target} WHERE dt = %s", (day,)
        ).fetchone()
    assert expected is not None and expected[0] == payload["rows"], expected

    # psql's input: the same rows with the partition column first, as the table has them.
    csv_path = Path(payload["workdir"]) / "rows.csv"
    started = time.perf_counter()
    with_dt = table.add_column(0, DT_COLUMN, pa.repeat(pa.scalar(day, pa.date32()), table.num_rows))
    pa_csv.write_csv(with_dt, csv_path, pa_csv.WriteOptions(include_header=False))
    csv_s = time.perf_counter() - started
    copy_sql = f"COPY {target} FROM STDIN (FORMAT csv)"

    def ours() -> None:
        load_partition(url, SCHEMA, TABLE, day, table)

    def psql() -> None:
        command = [payload["psql"], "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c",
                   f"\\copy {target} FROM '{csv_path}' WITH (FORMAT csv)"]  # fmt: skip
        subprocess.run(command, check=True)

    def psycopg_copy() -> None:
        with (
            psycopg.connect(url) as conn,
            conn.cursor() as cur,
            cur.copy(copy_sql) as copy,
            csv_path.open("rb") as source,
        ):
            while block := source.read(1 << 20):
                copy.write(block)

    candidates = {"ours": ours, "psql": psql, "psycopg": psycopg_copy}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    names = list(candidates)
    for i in range(payload["runs"] + 1):  # round 0 warms up every candidate and is dropped
        for name in names[i % 3 :] + names[: i % 3]:
            # An equivalent empty day for each: no dead rows, and no checkpoint falling inside
            # somebody's load.
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"TRUNCATE {target}")
                conn.execute("CHECKPOINT")
            started = time.perf_counter()
            candidates[name]()
            elapsed = time.perf_counter() - started
            with psycopg.connect(url) as conn:
                got = conn.execute(
                    f"SELECT count(*), sum(_line), count(carrier) FROM {target} WHERE dt = %s",
                    (day,),
                ).fetchone()
            assert got == expected, (name, got, expected)
            if i:
                samples[name].append(elapsed)
    return {
        **{f"{name}_s": median(s) for name, s in samples.items()},
        "csv_s": csv_s,
        "csv_bytes": csv_path.stat().st_size,
        "columns": with_dt.num_columns,
    }


# -- parent side -----------------------------------------------------------------------------


def _models(files: list[Path], runs: int) -> dict[str, Any]:
    from elt_assets.cli.local.stack import make_client

    with moto_server() as endpoint:
        s3 = make_client("s3", endpoint)
        s3.create_bucket(Bucket=BUCKET)
        for path in files:
            s3.put_object(Bucket=BUCKET, Key=_silver_key(path), Body=path.read_bytes())
        _phase(f"{len(files)} silver files on moto; timing {runs} runs of each")
        timed = run_worker("gold", {"task": "models", "endpoint": endpoint, "runs": runs})
        rss = {
            candidate: run_worker(
                "gold", {"task": "rss", "candidate": candidate, "endpoint": endpoint}
            )
            for candidate in ("ours", "bare")
        }
    return {**timed, "rss": rss}


def _warehouse(path: Path, rows: int, runs: int) -> dict[str, Any] | str:
    """The timed loads on a PostgreSQL started for them, or why they could not run."""
    from elt_assets.cli.local.postgres import LocalPostgres, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        return "PostgreSQL is not installed"
    psql = shutil.which("psql") or str(bin_dir / "psql")
    # The server's own user (`postgres`, when we are root) must be able to enter it.
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    root.chmod(0o711)
    try:
        with LocalPostgres.start(root / "cluster") as server:
            _phase(f"PostgreSQL on {server.url}; timing {runs} loads of each")
            return run_worker(
                "gold",
                {"task": "warehouse", "url": server.url, "path": str(path), "rows": rows,
                 "runs": runs, "psql": psql, "workdir": str(root)},
            )  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


def section(runs: int, quick: bool) -> Section:
    import pyarrow.parquet as pq

    size = SIZES["quick" if quick else "full"]
    files = silver_files(size["records_per_file"])
    silver_bytes = sum(p.stat().st_size for p in files)
    silver_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    mb = silver_bytes / MB
    label = f"{mb:.0f} MB silver partition ({silver_rows / 1e6:.1f}M rows, {len(files)} files)"
    answer = _models(files, runs)
    answer["read_share"] = _column_share(files, ("carrier", "weight_kg"))
    load = _warehouse(files[0], size["warehouse_rows"], runs)

    ours_rss, bare_rss = answer["rss"]["ours"], answer["rss"]["bare"]
    figures = [
        Figure("gold", f"gold model {MODEL} (run_model over S3Tables), {label}",
               mb / answer["ours_s"], "MB/s", baseline="bare polars scan_parquet + group_by, same objects",
               baseline_value=mb / answer["bare_s"], target=at_least(0.8)),
        Figure("gold", f"peak RSS of the {MODEL} run, {label}", ours_rss["peak_mib"], "MiB",
               baseline="peak RSS of the bare polars run", baseline_value=bare_rss["peak_mib"]),
        Figure("gold", f"the {MODEL} run's own RSS (peak minus after imports), {label}",
               ours_rss["peak_mib"] - ours_rss["before_mib"], "MiB",
               baseline="the bare polars run's own RSS",
               baseline_value=bare_rss["peak_mib"] - bare_rss["before_mib"]),
    ]  # fmt: skip
    rows = size["warehouse_rows"]
    what = f"{rows:,} silver.shipments rows"
    if isinstance(load, str):
        figures += [
            Figure("gold", f"warehouse load_partition, {what}", None, "rows/s", note=load),
        ]
    else:
        figures += [
            Figure("gold", f"warehouse load_partition (ADBC binary COPY), {what}",
                   rows / load["ours_s"], "rows/s", baseline="psql \\copy of the same rows (CSV)",
                   baseline_value=rows / load["psql_s"], target=at_least(0.7)),
            Figure("gold", f"psycopg 3 COPY of the same CSV, {what}", rows / load["psycopg_s"],
                   "rows/s", baseline="psql \\copy of the same rows (CSV)",
                   baseline_value=rows / load["psql_s"]),
        ]  # fmt: skip
    return Section(7, "Gold models and the warehouse", figures, _body(figures, answer, load))


def _column_share(files: list[Path], columns: tuple[str, ...]) -> float:
    """The share of the files' column-chunk bytes that `columns` take (from the footers)."""
    import pyarrow.parquet as pq

    wanted = total = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        for group in (meta.row_group(i) for i in range(meta.num_row_groups)):
            for chunk in (group.column(i) for i in range(group.num_columns)):
                total += chunk.total_compressed_size
                wanted += chunk.total_compressed_size if chunk.path_in_schema in columns else 0
    return wanted / total


def _body(figures: list[Figure], answer: dict[str, Any], load: dict[str, Any] | str) -> str:
    ours_rss, bare_rss = answer["rss"]["ours"], answer["rss"]["bare"]
    fetch, query = answer["fetch_s"], answer["ours_s"] - answer["fetch_s"]
    parts = [
        f"**Gold model.** The silver partition: {FILES} bronze objects of generated shipments"
        " (`elt_assets.cli.samples` through `bench.data.bronze_file`), each made into silver"
        " Parquet as `process_object` does it (`parse_object`, `with_lineage`, `to_parquet`) and"
        f" put at `silver/shipments/dt={DAY}/` on a moto server running in a process of its own."
        f" **Ours** is the shipped model `{MODEL}` (`elt_assets/models/{MODEL}.sql`) as Dagster's"
        " gold asset runs it: `load_models`, then `run_model` over `S3Tables`, which lists the"
        " partition and GETs every object whole with boto3 (8 at a time), then polars' SQL"
        " scans them from memory. **Bare polars** is"
        " `pl.scan_parquet('s3://…/dt=D/*.parquet', storage_options=…).group_by('carrier')"
        ".agg(len, sum(weight_kg)).sort('carrier').collect()` against the same server: its own"
        " S3 client lists the same objects and, by projection pushdown, reads only the byte"
        f" ranges of `carrier` and `weight_kg`, {answer['read_share']:.0%} of the column bytes."
        " Both answers are checked equal. MB/s is of the partition's silver Parquet bytes; the"
        " median of interleaved runs in one process after a warm-up. Of our median run,"
        f" {number(fetch)} s is `read_table` (listing and fetching) and {number(query)} s the"
        f" query; bare polars takes {number(answer['bare_s'])} s in all. Ours moves every byte"
        " through moto and boto3 (Python at both ends), so its ratio falls further than the"
        " floor's when other processes share the cores.",
        "",
        "Peak RSS is one run in a fresh process each, after the same imports and setup the timed"
        " runs have (our process: boto3, sqlglot, polars; the floor's: polars). It is read from"
        " `VmHWM`, the kernel counter behind `ru_maxrss`, because `ru_maxrss` carries the parent's"
        " peak across fork and exec: a worker of a parent that held this partition would report"
        ' the parent\'s. "Own" is the peak minus the peak after imports and setup.'
        " No target: `S3Tables` holds the partition's objects in memory by design (boto3 reaches"
        " moto and S3 alike), so our peak grows with the partition's Parquet bytes while the"
        " floor's grows with the two columns it reads; the ratio says how much that costs.",
        "",
        "| Process | RSS after imports | Peak RSS | Own |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | {number(a['before_mib'])} MiB | {number(a['peak_mib'])} MiB"
            f" | {number(a['peak_mib'] - a['before_mib'])} MiB |"
            for name, a in (("ours", ours_rss), ("bare polars", bare_rss))
        ),
        "",
    ]
    if isinstance(load, str):
        parts.append(f"**Warehouse load.** Not measured: {load}.")
    else:
        parts.append(
            "**Warehouse load.** A PostgreSQL 15 server started for the bench (`LocalPostgres`,"
            " loopback, trust auth), table `silver.shipments` as `load_partition` creates it"
            " (`dt` plus the silver columns, an index on `dt`). The rows: the first rows of one"
            " silver file, read with pyarrow as the warehouse asset reads silver. **Ours** is"
            f" `load_partition` (connect, CREATE … IF NOT EXISTS, DELETE the day, ADBC binary COPY"
            f" from Arrow, commit). **The floor** is `psql -c \"\\copy … FROM 'rows.csv' CSV\"` of"
            f" the same rows, written once beforehand as a {load['csv_bytes'] / MB:.0f} MB CSV"
            f" ({number(load['csv_s'])} s with pyarrow, not counted); its time includes starting"
            " psql and connecting. **psycopg 3** streams that CSV through `cursor.copy` in 1 MiB"
            " blocks. Before each load the table is truncated and checkpointed (not timed), so"
            " every candidate fills an equivalent empty day; the order rotates run by run, the"
            " first round is a dropped warm-up, and every load is checked to hold the same rows"
            " (count, sum of `_line`, non-null carriers). A ratio below 1 is what our load costs"
            " over the client floor."
        )
    return figure_table(figures) + "\n\n" + "\n".join(parts)
