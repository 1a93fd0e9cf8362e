"""The silver bucket as `read_table`, and where a model's day is written."""

import io
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from elt_assets.lib.models.model import Layer, Model, gold_model_key
from elt_assets.lib.models.running import SchemaFinder, empty_frame, newest_per_key
from lambda_bridge.contracts import ContractRegistry
from lambda_bridge.silver import PARQUET_COMPRESSION
from lambda_bridge.storage import is_missing

if TYPE_CHECKING:
    import polars as pl

_GET_WORKERS = 8


class S3Tables:
    """`read_table` over the silver bucket, through a boto3 client.

    The objects are fetched with boto3 (in parallel) and scanned by polars from memory, so the
    same code reads moto (in-process or a server) and S3, with boto3's credentials, endpoint
    and retries; polars' own S3 client would need them configured a second time and cannot
    reach in-process moto.

    Args:
        s3: A boto3 S3 client.
        bucket: The silver bucket.
        registry: The contracts (a missing partition is an empty frame of the silver schema).
        models: Every model, for the schema of a gold input that has no file yet (found by
            running the upstream model on empty inputs, not from an old file that may predate
            its SQL).
    """

    def __init__(
        self, s3: Any, bucket: str, registry: ContractRegistry, models: Iterable[Model] = ()
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._registry = registry
        self._schemas = SchemaFinder(registry, models)

    def __call__(self, layer: Layer, name: str, days: Sequence[str] | None) -> "pl.LazyFrame":
        if layer == "gold":
            keys = [gold_model_key(name, day) for day in days or ()]
            found = [body for body in self._get_all(keys) if body is not None]
            if not found:
                return empty_frame(self._schemas.of(name))
            return _scan(found)
        contract = self._registry[name]
        if layer == "ref":
            keys = self._list(f"silver/{name}/")
        else:
            keys = [k for day in days or () for k in self._list(f"silver/{name}/dt={day}/")]
        bodies = [body for body in self._get_all(keys) if body is not None]
        frame = (
            _scan(bodies, contract.silver_schema) if bodies else empty_frame(contract.silver_schema)
        )
        if layer == "ref" and contract.primary_key:
            return newest_per_key(frame, contract)
        return frame

    def _list(self, prefix: str) -> list[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix)
            for item in page.get("Contents", [])
            if item["Key"].endswith(".parquet")
        ]

    def _get_all(self, keys: list[str]) -> list[bytes | None]:
        if len(keys) <= 1:
            return [self._get(k) for k in keys]
        with ThreadPoolExecutor(min(_GET_WORKERS, len(keys))) as pool:
            return list(pool.map(self._get, keys))

    def _get(self, key: str) -> bytes | None:
        try:
            return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            # Listed, then removed by a replay dropping an orphan: it is not part of the day.
            if is_missing(exc):
                return None
            raise


def _scan(bodies: list[bytes], schema: pa.Schema | None = None) -> "pl.LazyFrame":
    import polars as pl

    if schema is None:
        return pl.scan_parquet(bodies)
    # Silver written under an earlier version of the contract reads as the current one: a column
    # added since is null, one dropped since is ignored.
    return pl.scan_parquet(
        bodies,
        schema=empty_frame(schema).collect_schema(),
        missing_columns="insert",
        extra_columns="ignore",
    )


def write_model_output(s3: Any, bucket: str, model_name: str, day: str, table: pa.Table) -> str:
    """Write a model's day as ONE zstd Parquet file at `gold_model_key` (a replay overwrites).

    Returns:
        The key written.
    """
    key = gold_model_key(model_name, day)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=PARQUET_COMPRESSION)
    s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue())
    return key
