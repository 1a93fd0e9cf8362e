"""An object's silver and quarantine files, ready for `process_object` to commit (DESIGN §3).

Parsed whole, they are a ParseResult, written in one PutObject each; streamed, they were sent
block by block, a part at a time, into multipart uploads that only need completing.
Either way nothing is at the output keys until `write`, which runs after the old manifest is
withdrawn and before the new one is written, so a manifest always describes complete outputs.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from lambda_bridge.contracts import Contract
from lambda_bridge.multipart import PartUpload
from lambda_bridge.parse import ParseResult
from lambda_bridge.quarantine import QuarantineUpload, put_quarantine
from lambda_bridge.silver import SilverUpload, to_parquet, with_lineage


@dataclass(frozen=True)
class Target:
    """Where one object's outputs go, and the lineage its rows carry."""

    s3: Any
    bucket: str
    silver_key: str
    quarantine_key: str
    source_key: str
    source_version: str
    ingested_at: dt.datetime


class WholeOutputs:
    """The outputs of an object (or chunk) parsed whole."""

    def __init__(self, result: ParseResult, contract: Contract, target: Target) -> None:
        self.result = result
        self._contract, self._target = contract, target
        self.lines_in = result.lines_in
        self.rows_out = result.rows_out
        self.rows_quarantined = result.rows_quarantined

    def counts_by_code(self) -> dict[str, int]:
        return self.result.counts_by_code()

    def write(self) -> None:
        t, result = self._target, self.result
        if result.rows_out:
            table = with_lineage(
                result, self._contract, t.source_key, t.source_version, t.ingested_at
            )
            body = to_parquet(table, self._contract)
            t.s3.put_object(Bucket=t.bucket, Key=t.silver_key, Body=body)
        else:
            t.s3.delete_object(Bucket=t.bucket, Key=t.silver_key)
        if result.bad:
            put_quarantine(
                t.s3, t.bucket, t.quarantine_key, result.bad, t.source_key, t.source_version
            )
        else:
            t.s3.delete_object(Bucket=t.bucket, Key=t.quarantine_key)

    def close(self) -> None:
        """Nothing to release: the result is only memory."""


class StreamedOutputs:
    """The outputs of a streamed object, added a block at a time."""

    result: ParseResult | None = None  # no one result: the rows went out block by block

    def __init__(self, contract: Contract, target: Target) -> None:
        self._target = target
        upload = PartUpload(target.s3, target.bucket, target.silver_key)
        self.silver = SilverUpload(
            contract, upload, target.source_key, target.source_version, target.ingested_at
        )
        self.quarantine = QuarantineUpload(
            target.s3, target.bucket, target.quarantine_key, target.source_key,
            target.source_version,
        )  # fmt: skip
        self.lines_in = 0
        self.rows_out = 0
        self.blocks = 0
        self._codes: Counter[str] = Counter()

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.lines

    def add(self, result: ParseResult) -> None:
        """One block's rows and quarantined lines."""
        self.silver.add(result)
        self.quarantine.add(result.bad)
        self.lines_in += result.lines_in
        self.rows_out += result.rows_out
        self._codes.update(b.code.value for b in result.bad)
        self.blocks += 1

    def counts_by_code(self) -> dict[str, int]:
        return dict(sorted(self._codes.items()))

    def write(self) -> None:
        t = self._target
        if self.rows_out:
            self.silver.commit()
        else:
            t.s3.delete_object(Bucket=t.bucket, Key=t.silver_key)
        if self.rows_quarantined:
            self.quarantine.commit()
        else:
            t.s3.delete_object(Bucket=t.bucket, Key=t.quarantine_key)

    def close(self) -> None:
        """Drop uploads not completed (the object given up on, or a failure)."""
        self.silver.abort()
        self.quarantine.abort()


Outputs = WholeOutputs | StreamedOutputs
