"""The embedded stack: a moto server on a loopback port with the resources Terraform creates.

boto3 talks HTTP to it exactly as to AWS. The resources mirror `deploy/terraform`: versioned
bronze and silver buckets, the bronze ObjectCreated notification, the events queue with its DLQ
and redrive policy, and the idempotency table with TTL. Lambda itself is played by
`elt_assets.cli.local.runner`, which moto cannot do without Docker.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from elt_assets.cli.local.firehose import STREAM_DATASETS, stream_name, streams_setting
from lambda_bridge.config import Settings
from lambda_bridge.idempotency import IDEMPOTENCY_KEY_ATTR, IDEMPOTENCY_TTL_ATTR
from lambda_bridge.keys import MANIFESTS_ROOT

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
MAX_RECEIVE_COUNT = 5
QUEUE_VISIBILITY_SECONDS = 30
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
ENV_FILE = Path(".elt") / "local.env"
# The embedded warehouse's data directory (DESIGN §10): kept between runs, like the venv.
WAREHOUSE_DIR = Path(".elt") / "pg"


@dataclass(frozen=True)
class ResourceNames:
    """Names of the stack's resources; a prefix keeps parallel stacks apart."""

    prefix: str = "elt-local"

    @property
    def bronze_bucket(self) -> str:
        return f"{self.prefix}-bronze"

    @property
    def silver_bucket(self) -> str:
        return f"{self.prefix}-silver"

    @property
    def queue(self) -> str:
        return f"{self.prefix}-events"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}-events-dlq"

    @property
    def notifications_queue(self) -> str:
        """Stands in for S3 -> Lambda async invocation, which moto cannot run without Docker."""
        return f"{self.prefix}-s3-notifications"

    @property
    def ingest_failures_queue(self) -> str:
        """The ingest Lambda's on-failure destination."""
        return f"{self.prefix}-ingest-failures"

    @property
    def landings_queue(self) -> str:
        """Silver-bucket notifications of new manifests, for Dagster's landings sensor."""
        return f"{self.prefix}-landings"

    @property
    def events_topic(self) -> str:
        """`partition_ready` events for downstream consumers."""
        return f"{self.prefix}-partition-events"

    @property
    def alerts_topic(self) -> str:
        return f"{self.prefix}-alerts"

    def consumer_queue(self, topic: str) -> str:
        """The example subscriber of a topic, a queue a consumer (or a test) reads."""
        return f"{topic}-consumer"

    @property
    def table(self) -> str:
        return f"{self.prefix}-idempotency"


@dataclass
class Stack:
    """A running embedded stack: where it listens and what it created."""

    endpoint: str
    region: str
    settings: Settings
    names: ResourceNames
    notifications_queue_url: str
    ingest_failures_queue_url: str
    # The queues subscribed to the events and alerts topics, as a downstream consumer reads them.
    events_consumer_url: str = ""
    alerts_consumer_url: str = ""
    server: Any = None
    warehouse: Any = None  # a LocalPostgres when the stack runs one
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = make_client(service, self.endpoint, self.region)
        return self._clients[service]

    def env(self) -> dict[str, str]:
        """Every variable another process needs to use this stack (DESIGN §6 `.elt/local.env`)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **CREDENTIALS,
            **self.settings.as_env(),
            **({"ELT_WAREHOUSE_URL": self.warehouse.url} if self.warehouse else {}),
        }

    def write_env_file(self, path: Path = ENV_FILE) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{k}={v}" for k, v in sorted(self.env().items())]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def stop(self) -> None:
        if self.warehouse is not None:
            self.warehouse.stop()
            self.warehouse = None
        if self.server is not None:
            self.server.stop()
            self.server = None


def make_client(service: str, endpoint: str | None, region: str = REGION) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


class _MotoLacksAnApi(logging.Filter):
    """Drops werkzeug's traceback for an API moto does not implement (StartMessageMoveTask).

    The caller already handles it (redrive falls back to receive -> send -> delete and says so),
    so a full stack trace in the terminal would report an expected condition as a crash.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "has not been implemented" not in record.getMessage()


def start_server(port: int = 0, host: str = "127.0.0.1") -> tuple[Any, str]:
    """Start a moto server on loopback (port 0: any free port) and return it with its URL."""
    from moto.server import ThreadedMotoServer

    # One access-log line per request drowns everything else the stack prints.
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.ERROR)
    if not any(isinstance(f, _MotoLacksAnApi) for f in werkzeug.filters):
        werkzeug.addFilter(_MotoLacksAnApi())
    # Credentials must exist before moto's backends resolve the account.
    for key, value in CREDENTIALS.items():
        os.environ.setdefault(key, value)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def provision(
    endpoint: str | None,
    names: ResourceNames | None = None,
    region: str = REGION,
    contracts_dir: Path | None = None,
) -> Stack:
    """Create the resources Terraform creates, on the server at `endpoint`."""
    names = names or ResourceNames()
    s3 = make_client("s3", endpoint, region)
    sqs = make_client("sqs", endpoint, region)
    ddb = make_client("dynamodb", endpoint, region)

    for bucket in (names.bronze_bucket, names.silver_bucket):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    dlq_url = sqs.create_queue(
        QueueName=names.dlq,
        Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    queue_url = sqs.create_queue(
        QueueName=names.queue,
        Attributes={
            "VisibilityTimeout": str(QUEUE_VISIBILITY_SECONDS),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    failures_url = sqs.create_queue(QueueName=names.ingest_failures_queue)["QueueUrl"]
    notifications_url = sqs.create_queue(QueueName=names.notifications_queue)["QueueUrl"]
    s3.put_bucket_notification_configuration(
        Bucket=names.bronze_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "bronze-object-created",
                    "QueueArn": _queue_arn(sqs, notifications_url),
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "bronze/"}]}},
                }
            ]
        },
    )

    landings_url = sqs.create_queue(
        QueueName=names.landings_queue,
        Attributes={"MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS)},
    )["QueueUrl"]
    s3.put_bucket_notification_configuration(
        Bucket=names.silver_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "manifest-created",
                    "QueueArn": _queue_arn(sqs, landings_url),
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": MANIFESTS_ROOT}]}
                    },
                }
            ]
        },
    )

    ddb.create_table(
        TableName=names.table,
        KeySchema=[{"AttributeName": IDEMPOTENCY_KEY_ATTR, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": IDEMPOTENCY_KEY_ATTR, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(
        TableName=names.table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": IDEMPOTENCY_TTL_ATTR},
    )

    sns = make_client("sns", endpoint, region)
    topics, consumers = {}, {}
    for topic in (names.events_topic, names.alerts_topic):
        topics[topic] = sns.create_topic(Name=topic)["TopicArn"]
        consumers[topic] = sqs.create_queue(QueueName=names.consumer_queue(topic))["QueueUrl"]
        sns.subscribe(
            TopicArn=topics[topic],
            Protocol="sqs",
            Endpoint=_queue_arn(sqs, consumers[topic]),
            # The consumer reads the event itself, not SNS's envelope around it.
            Attributes={"RawMessageDelivery": "true"},
        )

    kinesis = make_client("kinesis", endpoint, region)
    streams = {}
    for dataset in STREAM_DATASETS:
        streams[dataset] = stream_name(names.prefix, dataset)
        kinesis.create_stream(StreamName=streams[dataset], ShardCount=1)

    settings = Settings(
        bronze_bucket=names.bronze_bucket,
        silver_bucket=names.silver_bucket,
        queue_url=queue_url,
        dlq_url=dlq_url,
        idempotency_table=names.table,
        contracts_dir=contracts_dir,
        landings_queue_url=landings_url,
        events_topic_arn=topics[names.events_topic],
        alerts_topic_arn=topics[names.alerts_topic],
        streams=streams_setting(streams),
        # `ELT_CHUNK_BYTES=... elt local up` splits large objects as a deployment would.
        chunk_bytes=Settings.from_env().chunk_bytes,
    )
    return Stack(
        endpoint=endpoint,
        region=region,
        settings=settings,
        names=names,
        notifications_queue_url=notifications_url,
        ingest_failures_queue_url=failures_url,
        events_consumer_url=consumers[names.events_topic],
        alerts_consumer_url=consumers[names.alerts_topic],
    )


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def start_stack(
    port: int = 0,
    names: ResourceNames | None = None,
    contracts_dir: Path | None = None,
    warehouse_dir: Path | None = None,
) -> Stack:
    """Start a moto server and provision the stack's resources on it.

    Args:
        port: The moto server's port (0: a free one).
        names: Resource names (a prefix keeps stacks on one server apart).
        contracts_dir: The contracts the stack serves (default: the shipped ones).
        warehouse_dir: Also start a PostgreSQL server with its data there (`WAREHOUSE_DIR`
            for `elt local up`, `elt dev` and `elt demo`); None: no warehouse.
    """
    server, endpoint = start_server(port)
    try:
        stack = provision(endpoint, names, contracts_dir=contracts_dir)
        stack.server = server
        if warehouse_dir is not None:
            stack.warehouse = start_warehouse(warehouse_dir)
    except BaseException:
        server.stop()
        raise
    return stack


def start_warehouse(data_dir: Path) -> Any:
    """The local PostgreSQL server, its data in `data_dir`.

    As root, PostgreSQL runs as the `postgres` account, which must be able to reach the
    directory; a checkout under a private home cannot be reached, so the data then goes to a
    directory of its own under the system temp dir, named after the checkout so that it is
    the same one next time.
    """
    import hashlib
    import tempfile

    from elt_assets.cli.local.postgres import LocalPostgres, UnreachableDataDirError

    try:
        return LocalPostgres.start(data_dir)
    except UnreachableDataDirError:
        pass
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"elt-pg-{digest}"
    fallback.mkdir(mode=0o711, exist_ok=True)
    fallback.chmod(0o711)
    return LocalPostgres.start(fallback / "data")
