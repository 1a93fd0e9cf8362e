"""Silver Parquet: the parsed rows with their lineage columns, written the one way silver is."""

import datetime as dt
import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lambda_bridge.contracts import Contract
from lambda_bridge.multipart import PartUpload
from lambda_bridge.parse import ParseResult

PARQUET_COMPRESSION = "zstd"
# Level 1: faster than 3 and, on this data, no larger (bench: compression table).
PARQUET_COMPRESSION_LEVEL = 1


def with_lineage(
    result: ParseResult,
    contract: Contract,
    source_key: str,
    source_version: str,
    ingested_at: dt.datetime,
) -> pa.Table:
    """The silver table: the contract's columns, then `_source_key`, `_source_version`, `_line`,
    `_ingested_at`.

    `_source_key` and `_source_version` hold one value for the whole object, so they are built
    dictionary-encoded (the value once, n zero indices): the Parquet writer then stores the
    dictionary as it is instead of hashing n copies of the string. Their Parquet type is the
    contract's plain string (`to_parquet` does not store the in-memory Arrow schema).
    """
    n = result.rows_out
    table = result.table
    lineage = [
        _constant_string(source_key, n),
        _constant_string(source_version, n),
        pa.array(result.lines, pa.int64()),
        pa.repeat(pa.scalar(ingested_at, pa.timestamp("us", tz="UTC")), n),
    ]
    fields = [
        field.with_type(pa.dictionary(pa.int32(), pa.string()))
        if field.name in _CONSTANT
        else field
        for field in contract.silver_schema
    ]
    return pa.Table.from_arrays([*table.columns, *lineage], schema=pa.schema(fields))


_CONSTANT = ("_source_key", "_source_version")


def _constant_string(value: str, n: int) -> pa.DictionaryArray:
    """n copies of `value`, built in C as one dictionary entry and n zero indices."""
    indices = pa.repeat(pa.scalar(0, pa.int32()), n)
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))


def to_parquet(table: pa.Table, contract: Contract | None = None) -> bytes:
    """Silver Parquet bytes, written with `parquet_options`."""
    sink = io.BytesIO()
    pq.write_table(table, sink, **parquet_options(table.column_names, contract))
    return sink.getvalue()


def parquet_options(columns: list[str], contract: Contract | None = None) -> dict[str, Any]:
    """How silver Parquet is written: zstd; dictionary encoding except for columns unique per row.

    A primary key and `_line` hold a new value on every row, so a dictionary only costs time
    (the writer builds one, then falls back to plain encoding when it outgrows its page).
    `_line` counts up, so delta encoding stores it in a few bytes per page.

    The Arrow schema is not stored in the file: every silver type maps to a Parquet logical
    type that reads back as the contract's Arrow type, and a stored schema would make readers
    return the dictionary-encoded lineage columns as dictionaries instead of strings.
    """
    unique = {*(contract.primary_key if contract else ()), "_line"}
    return {
        "compression": PARQUET_COMPRESSION,
        "compression_level": PARQUET_COMPRESSION_LEVEL,
        "use_dictionary": [name for name in columns if name not in unique],
        "column_encoding": {"_line": "DELTA_BINARY_PACKED"} if "_line" in columns else None,
        "store_schema": False,
    }


class SilverUpload:
    """The silver Parquet of a streamed object, written a block at a time (one row group each)
    and sent to S3 as it grows, a part at a time: memory holds a block, not the object's rows.

    The file is the one `to_parquet` would write of all the rows: the same schema and options.
    Nothing is at the silver key until `commit`.
    """

    def __init__(
        self,
        contract: Contract,
        upload: PartUpload,
        source_key: str,
        source_version: str,
        ingested_at: dt.datetime,
    ) -> None:
        self._contract, self._upload = contract, upload
        self._lineage = (source_key, source_version, ingested_at)
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def add(self, result: ParseResult) -> None:
        """Append a block's rows."""
        if not result.rows_out:
            return
        table = with_lineage(result, self._contract, *self._lineage)
        if self._writer is None:
            options = parquet_options(table.column_names, self._contract)
            self._writer = pq.ParquetWriter(self._upload, table.schema, **options)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def commit(self) -> None:
        """Finish the file and put it at its key (call only when `rows` is not 0)."""
        if self._writer is not None:
            self._writer.close()  # the footer
            self._writer = None
        self._upload.commit()

    def abort(self) -> None:
        """Drop what was sent, if any (nothing to do once committed)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._upload.abort()
