"""The baselines our transform is compared with: bytes of JSONL in, Parquet bytes out.

Import this module only in a worker subprocess whose POLARS_MAX_THREADS is already set:
polars sizes its thread pool once, when it is first imported.

All three write Parquet with our codec and level, so the difference is in the reading,
checking and converting, not in the compression. pandas is imported where it is used, so a
process measuring the floor's peak memory does not carry it.
"""

import io
import json

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from bench.ours import Output
from lambda_bridge.silver import PARQUET_COMPRESSION, PARQUET_COMPRESSION_LEVEL


def floor(data: bytes) -> Output:
    """The fastest sensible way to turn NDJSON into Parquet: no validation, no quarantine.

    Types are whatever polars infers (timestamps stay strings). Run on the clean file only:
    one bad line makes it fail the whole object.
    """
    frame = pl.read_ndjson(data)
    sink = io.BytesIO()
    frame.write_parquet(
        sink, compression=PARQUET_COMPRESSION, compression_level=PARQUET_COMPRESSION_LEVEL
    )
    return Output(sink.tell(), frame.height)


def per_record(data: bytes) -> Output:
    """What a hand-written Lambda typically does: json.loads per line, then pyarrow.

    No schema and no error handling, as in the snippets it is copied from: a bad line raises
    and fails the whole object.
    """
    rows = [json.loads(line) for line in data.splitlines() if line.strip()]
    table = pa.Table.from_pylist(rows)
    sink = io.BytesIO()
    pq.write_table(
        table, sink, compression=PARQUET_COMPRESSION, compression_level=PARQUET_COMPRESSION_LEVEL
    )
    return Output(sink.tell(), table.num_rows)


def pandas_path(data: bytes) -> Output:
    """What AWS SDK for pandas does: pandas.read_json(lines=True), then DataFrame.to_parquet.

    Default options, as the SDK passes them (so floats are parsed imprecisely unless
    `precise_float=True`); a bad line fails the whole object.
    """
    import pandas as pd  # here, not at the top, so the floor's memory figure carries no pandas

    frame = pd.read_json(io.BytesIO(data), lines=True)
    sink = io.BytesIO()
    frame.to_parquet(
        sink,
        engine="pyarrow",
        index=False,
        compression=PARQUET_COMPRESSION,
        compression_level=PARQUET_COMPRESSION_LEVEL,
    )
    return Output(sink.tell(), len(frame))
