"""Settings read from the environment at call time (never at import time)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambda_bridge.chunks import DEFAULT_CHUNK_BYTES
from lambda_bridge.exceptions import ConfigError

ENV_BRONZE_BUCKET = "ELT_BRONZE_BUCKET"
ENV_SILVER_BUCKET = "ELT_SILVER_BUCKET"
ENV_QUEUE_URL = "ELT_QUEUE_URL"
ENV_DLQ_URL = "ELT_DLQ_URL"
ENV_IDEMPOTENCY_TABLE = "ELT_IDEMPOTENCY_TABLE"
ENV_CONTRACTS_DIR = "ELT_CONTRACTS_DIR"
# Optional: S3 notifications of new manifests, for the Dagster landings sensor.
ENV_LANDINGS_QUEUE_URL = "ELT_LANDINGS_QUEUE_URL"
# Optional: SNS topics Dagster publishes to: `partition_ready` events for downstream consumers,
# and quality-gate alerts (DESIGN §11).
ENV_EVENTS_TOPIC_ARN = "ELT_EVENTS_TOPIC_ARN"
ENV_ALERTS_TOPIC_ARN = "ELT_ALERTS_TOPIC_ARN"
# Optional: the Kinesis streams producers put records on, `dataset=stream,...` (DESIGN §11).
ENV_STREAMS = "ELT_STREAMS"
# Optional: the largest object (decompressed) the transform reads into memory.
ENV_MAX_OBJECT_BYTES = "ELT_MAX_OBJECT_BYTES"
# Optional: objects larger than this are split into byte ranges of this size (DESIGN §12).
ENV_CHUNK_BYTES = "ELT_CHUNK_BYTES"
# Set by Lambda itself: the function's memory in MB.
LAMBDA_MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
# Clean and mostly good objects peak at up to ~3.5x their size, runtime included (BENCHMARKS.md,
# section 2), so a quarter of the function's memory leaves headroom; a file whose every line is
# bad takes up to ~6x and, past that, ends in the DLQ (README, Performance).
MEMORY_PER_OBJECT_BYTE = 4

ALL_ENV_VARS = (
    ENV_BRONZE_BUCKET,
    ENV_SILVER_BUCKET,
    ENV_QUEUE_URL,
    ENV_DLQ_URL,
    ENV_IDEMPOTENCY_TABLE,
    ENV_CONTRACTS_DIR,
    ENV_LANDINGS_QUEUE_URL,
    ENV_EVENTS_TOPIC_ARN,
    ENV_ALERTS_TOPIC_ARN,
    ENV_STREAMS,
)  # where things are; ELT_MAX_OBJECT_BYTES is a limit, not a place, and has a default


@dataclass(frozen=True)
class Settings:
    """Where the pipeline's buckets, queues and table are.

    Attributes:
        bronze_bucket: Bucket producers write `bronze/<dataset>/...` objects into.
        silver_bucket: Bucket for silver Parquet, quarantine, manifests and reports.
        queue_url: Events queue (ingest -> transform).
        dlq_url: Dead-letter queue of the events queue.
        idempotency_table: DynamoDB table of the ingest idempotency records.
        contracts_dir: Folder of dataset contracts, or None for the packaged ones.
        landings_queue_url: Queue of silver-bucket notifications for new manifests (optional).
        events_topic_arn: SNS topic of `partition_ready` events (optional: none published).
        alerts_topic_arn: SNS topic of quality-gate alerts (optional: none published).
        streams: Kinesis streams by dataset, as `dataset=stream,...` (optional).
        max_object_bytes: The largest object (decompressed) the transform reads into memory;
            larger ones are quarantined whole as `too_large`. None: no limit.
        chunk_bytes: Objects larger than this that can be split (uncompressed JSONL) are
            split into byte ranges of this size, one message and one set of outputs each.
    """

    bronze_bucket: str = ""
    silver_bucket: str = ""
    queue_url: str = ""
    dlq_url: str = ""
    idempotency_table: str = ""
    contracts_dir: Path | None = None
    landings_queue_url: str = ""
    events_topic_arn: str = ""
    alerts_topic_arn: str = ""
    streams: str = ""
    max_object_bytes: int | None = None
    chunk_bytes: int = DEFAULT_CHUNK_BYTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        contracts_dir = env.get(ENV_CONTRACTS_DIR) or None
        return cls(
            bronze_bucket=env.get(ENV_BRONZE_BUCKET, ""),
            silver_bucket=env.get(ENV_SILVER_BUCKET, ""),
            queue_url=env.get(ENV_QUEUE_URL, ""),
            dlq_url=env.get(ENV_DLQ_URL, ""),
            idempotency_table=env.get(ENV_IDEMPOTENCY_TABLE, ""),
            contracts_dir=Path(contracts_dir) if contracts_dir else None,
            landings_queue_url=env.get(ENV_LANDINGS_QUEUE_URL, ""),
            events_topic_arn=env.get(ENV_EVENTS_TOPIC_ARN, ""),
            alerts_topic_arn=env.get(ENV_ALERTS_TOPIC_ARN, ""),
            streams=env.get(ENV_STREAMS, ""),
            max_object_bytes=_max_object_bytes(env),
            chunk_bytes=_positive_bytes(env, ENV_CHUNK_BYTES) or DEFAULT_CHUNK_BYTES,
        )

    def stream_names(self) -> dict[str, str]:
        """The Kinesis stream of each streamed dataset."""
        pairs = (item.split("=", 1) for item in self.streams.split(",") if "=" in item)
        return {dataset.strip(): name.strip() for dataset, name in pairs}

    def require(self, *fields: str) -> "Settings":
        """Fail with one clear sentence if any named field is empty."""
        names = {
            "bronze_bucket": ENV_BRONZE_BUCKET,
            "silver_bucket": ENV_SILVER_BUCKET,
            "queue_url": ENV_QUEUE_URL,
            "dlq_url": ENV_DLQ_URL,
            "idempotency_table": ENV_IDEMPOTENCY_TABLE,
            "landings_queue_url": ENV_LANDINGS_QUEUE_URL,
            "events_topic_arn": ENV_EVENTS_TOPIC_ARN,
            "alerts_topic_arn": ENV_ALERTS_TOPIC_ARN,
            "streams": ENV_STREAMS,
        }
        missing = [names[f] for f in fields if not getattr(self, f)]
        if missing:
            msg = f"missing setting: set {', '.join(missing)} (see .elt/local.env or the Terraform outputs)"
            raise ConfigError(msg)
        return self

    def as_env(self) -> dict[str, str]:
        """The settings as `ELT_*` environment variables."""
        env = {
            ENV_BRONZE_BUCKET: self.bronze_bucket,
            ENV_SILVER_BUCKET: self.silver_bucket,
            ENV_QUEUE_URL: self.queue_url,
            ENV_DLQ_URL: self.dlq_url,
            ENV_IDEMPOTENCY_TABLE: self.idempotency_table,
        }
        if self.contracts_dir is not None:
            env[ENV_CONTRACTS_DIR] = str(self.contracts_dir)
        if self.landings_queue_url:
            env[ENV_LANDINGS_QUEUE_URL] = self.landings_queue_url
        if self.events_topic_arn:
            env[ENV_EVENTS_TOPIC_ARN] = self.events_topic_arn
        if self.alerts_topic_arn:
            env[ENV_ALERTS_TOPIC_ARN] = self.alerts_topic_arn
        if self.streams:
            env[ENV_STREAMS] = self.streams
        if self.max_object_bytes is not None:
            env[ENV_MAX_OBJECT_BYTES] = str(self.max_object_bytes)
        if self.chunk_bytes != DEFAULT_CHUNK_BYTES:
            env[ENV_CHUNK_BYTES] = str(self.chunk_bytes)
        return env


def _max_object_bytes(env: Mapping[str, str]) -> int | None:
    """ELT_MAX_OBJECT_BYTES if set; on Lambda, a quarter of the function's memory; else None."""
    explicit = _positive_bytes(env, ENV_MAX_OBJECT_BYTES)
    if explicit:
        return explicit
    memory_mb = env.get(LAMBDA_MEMORY_ENV, "").strip()
    if memory_mb.isdigit():
        return int(memory_mb) * 2**20 // MEMORY_PER_OBJECT_BYTE
    return None


def _positive_bytes(env: Mapping[str, str], name: str) -> int | None:
    """A positive byte count from `name`, None when unset; a clear error otherwise."""
    explicit = env.get(name, "").strip()
    if not explicit:
        return None
    try:
        value = int(explicit)
    except ValueError:
        value = 0
    if value <= 0:
        msg = f"{name} must be a positive number of bytes, got {explicit!r}"
        raise ConfigError(msg)
    return value
