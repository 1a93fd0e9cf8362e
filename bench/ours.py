"""Our transform, as the Lambda runs it: the project's real functions, in process_object's order.

Kept apart from the baselines so a process measuring our memory loads only what the transform
Lambda loads, not polars or pandas.
"""

import datetime as dt
from dataclasses import dataclass

from lambda_bridge.contracts import ContractRegistry
from lambda_bridge.parse import parse_object
from lambda_bridge.quarantine import quarantine_parts
from lambda_bridge.silver import to_parquet, with_lineage

CONTRACT = ContractRegistry.load()["shipments"]
SOURCE_KEY = "bronze/shipments/dt=2026-05-01/bench.jsonl"
SOURCE_VERSION = "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd06"
INGESTED_AT = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Output:
    """What a candidate produced from one bronze file.

    Attributes:
        parquet_bytes: Size of the Parquet output.
        rows_out: Rows written to Parquet.
        rows_quarantined: Lines quarantined, or None for candidates that do not quarantine.
        quarantine_bytes: Size of the quarantine JSONL (ours only).
    """

    parquet_bytes: int
    rows_out: int
    rows_quarantined: int | None = None
    quarantine_bytes: int = 0


def ours(data: bytes) -> Output:
    """The transform Lambda's CPU work on one object: everything process_object does but S3 I/O.

    parse_object (validation, casting, isolation of bad lines), with_lineage and to_parquet,
    plus the quarantine file when there are bad lines, because process_object writes that too:
    its parts are encoded one at a time and dropped, as the upload does with them.
    """
    result = parse_object(data, CONTRACT, "jsonl")
    parquet = b""
    if result.rows_out:
        table = with_lineage(result, CONTRACT, SOURCE_KEY, SOURCE_VERSION, INGESTED_AT)
        parquet = to_parquet(table, CONTRACT)
    quarantine_bytes = 0
    for part in quarantine_parts(result.bad, SOURCE_KEY, SOURCE_VERSION):
        quarantine_bytes += len(part)
    return Output(len(parquet), result.rows_out, result.rows_quarantined, quarantine_bytes)
