"""Kinesis streams and the Firehose that delivers them to bronze, on the embedded stack.

moto has Kinesis but runs no Firehose delivery, so this plays it (DESIGN §11): it reads each
stream's shards, buffers the records per stream, and when a buffer reaches its size or its
age, writes it as one gzip JSONL object under `bronze/<dataset>/dt=<arrival day>/`, as
Firehose does with the prefix Terraform gives it. From there the hot path takes over unchanged.
Records are concatenated as Firehose concatenates them: the producer ends each with a newline.
"""

import datetime as dt
import gzip
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

# The datasets the embedded stack streams (Terraform: var.stream_datasets).
STREAM_DATASETS = ("tracking_events",)
# Firehose's own minimums are 1 MiB and 60 s; locally smaller, so a demo sees objects at once.
BUFFER_BYTES = 1024 * 1024
BUFFER_SECONDS = 5.0


def stream_name(prefix: str, dataset: str) -> str:
    return f"{prefix}-{dataset}-stream"


def streams_setting(streams: dict[str, str]) -> str:
    """`ELT_STREAMS`: `dataset=stream` pairs, comma-separated (Settings.stream_names reads it)."""
    return ",".join(f"{dataset}={name}" for dataset, name in sorted(streams.items()))


@dataclass
class _Buffer:
    records: list[bytes] = field(default_factory=list)
    size: int = 0
    opened: float = 0.0
    arrived: dt.datetime | None = None  # the first record's arrival: it dates the object


class FirehoseEmulator:
    """Reads the streams from their start and delivers them to bronze in buffered objects."""

    def __init__(
        self,
        kinesis: Any,
        s3: Any,
        bronze_bucket: str,
        streams: dict[str, str],
        *,
        buffer_bytes: int = BUFFER_BYTES,
        buffer_seconds: float = BUFFER_SECONDS,
        clock: Any = None,
    ) -> None:
        import time

        self.kinesis, self.s3, self.bucket = kinesis, s3, bronze_bucket
        self.streams = streams
        self.buffer_bytes, self.buffer_seconds = buffer_bytes, buffer_seconds
        self.clock = clock or time.monotonic
        self._iterators: dict[tuple[str, str], str | None] = {}
        self._buffers = {dataset: _Buffer() for dataset in streams}
        self._lock = threading.Lock()
        self.objects_written = 0
        self.records_delivered = 0

    def poll(self) -> int:
        """Read what the streams hold now and flush full or old buffers; records read."""
        read = 0
        with self._lock:
            for dataset, stream in self.streams.items():
                for record in self._read(stream):
                    self._add(dataset, record)
                    read += 1
                buffer = self._buffers[dataset]
                if buffer.records and self.clock() - buffer.opened >= self.buffer_seconds:
                    self._flush(dataset)
        return read

    def flush(self) -> None:
        """Deliver every buffer now (what Firehose does when its interval ends)."""
        with self._lock:
            for dataset in self.streams:
                if self._buffers[dataset].records:
                    self._flush(dataset)

    def pending(self) -> int:
        """Records read but not yet delivered."""
        return sum(len(b.records) for b in self._buffers.values())

    def _read(self, stream: str) -> list[dict[str, Any]]:
        out = []
        for shard in self.kinesis.list_shards(StreamName=stream)["Shards"]:
            key = (stream, shard["ShardId"])
            iterator = self._iterators.get(key)
            if key not in self._iterators:
                iterator = self.kinesis.get_shard_iterator(
                    StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while iterator:
                got = self.kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                out.extend(got["Records"])
                iterator = got.get("NextShardIterator")
                if not got["Records"]:
                    break
            self._iterators[key] = iterator
        return out

    def _add(self, dataset: str, record: dict[str, Any]) -> None:
        buffer = self._buffers[dataset]
        data = record["Data"]
        if buffer.records and buffer.size + len(data) > self.buffer_bytes:
            self._flush(dataset)  # the size limit: this record opens the next object
            buffer = self._buffers[dataset]
        if not buffer.records:
            buffer.opened = self.clock()
            buffer.arrived = record.get("ApproximateArrivalTimestamp")
        buffer.records.append(data)
        buffer.size += len(data)

    def _flush(self, dataset: str) -> None:
        buffer = self._buffers[dataset]
        arrived = buffer.arrived or dt.datetime.now(dt.UTC)
        if arrived.tzinfo is None:
            arrived = arrived.replace(tzinfo=dt.UTC)
        arrived = arrived.astimezone(dt.UTC)
        name = f"{self.streams[dataset]}-{arrived:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}.jsonl.gz"
        key = f"bronze/{dataset}/dt={arrived:%Y-%m-%d}/{name}"
        body = gzip.compress(b"".join(buffer.records), mtime=0)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.objects_written += 1
        self.records_delivered += len(buffer.records)
        self._buffers[dataset] = _Buffer()


def put_records(kinesis: Any, stream: str, lines: list[bytes], key_of: Any = None) -> int:
    """Put each line as one record (newline-terminated, as Firehose then concatenates them),
    500 a call as Kinesis allows, retrying what a call reports as failed; the records put."""
    records = [
        {"Data": line if line.endswith(b"\n") else line + b"\n",
         "PartitionKey": key_of(line) if key_of else str(i)}
        for i, line in enumerate(lines)
    ]  # fmt: skip
    put = 0
    for first in range(0, len(records), 500):
        batch = records[first : first + 500]
        for _ in range(5):
            response = kinesis.put_records(StreamName=stream, Records=batch)
            failed = [
                r
                for r, answer in zip(batch, response["Records"], strict=True)
                if "ErrorCode" in answer
            ]
            put += len(batch) - len(failed)
            if not failed:
                break
            batch = failed
        else:
            msg = f"Kinesis refused {len(batch)} records on {stream} five times"
            raise RuntimeError(msg)
    return put
