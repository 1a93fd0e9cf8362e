"""Every external system as a ConfigurableResource, wired from the environment with dg.EnvVar.

The AWS resources take dagster-aws's boto3 fields (region, endpoint, profile, credentials,
max_attempts). Left unset, boto3 itself honours AWS_ENDPOINT_URL, AWS_REGION and the credential
variables, so nothing here names an endpoint.
"""

from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from dagster_aws.utils import ResourceWithBoto3Configuration

from lambda_bridge.config import Settings
from lambda_bridge.contracts import ContractRegistry


class PipelineResource(dg.ConfigurableResource):
    """Where the pipeline's data lives, and its dataset contracts."""

    bronze_bucket: str
    silver_bucket: str
    contracts_dir: str | None = None

    def registry(self) -> ContractRegistry:
        return (
            ContractRegistry.load(self.contracts_dir)
            if self.contracts_dir
            else ContractRegistry.from_env()
        )


class _AwsClient(ResourceWithBoto3Configuration):
    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=self.profile_name)
        return session.client(
            service,
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            use_ssl=self.use_ssl,
            verify=self.verify,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            # Standard mode retries throttling and transient errors with backoff; the legacy
            # default retries fewer errors.
            config=Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
        )


class SQSResource(_AwsClient):
    """The events queue, its DLQ and (optionally) the landings queue of new manifests."""

    queue_url: str
    dlq_url: str
    landings_queue_url: str | None = None

    def get_client(self) -> Any:
        return self._client("sqs")

    def landings_url(self) -> str:
        """Optional, so not an EnvVar (which must be set): read when a sensor ticks."""
        return self.landings_queue_url or Settings.from_env().landings_queue_url


class SNSResource(_AwsClient):
    """The topics Dagster publishes to; both optional (unset: nothing is published)."""

    events_topic_arn: str | None = None
    alerts_topic_arn: str | None = None

    def get_client(self) -> Any:
        return self._client("sns")

    def events_topic(self) -> str:
        """`ELT_EVENTS_TOPIC_ARN`, read when a check runs (not an EnvVar: it may be unset)."""
        return self.events_topic_arn or Settings.from_env().events_topic_arn

    def alerts_topic(self) -> str:
        """`ELT_ALERTS_TOPIC_ARN`, read when a gate fails."""
        return self.alerts_topic_arn or Settings.from_env().alerts_topic_arn


class CloudWatchResource(_AwsClient):
    """CloudWatch metrics: SQS tells a queue's oldest message age only there."""

    def get_client(self) -> Any:
        return self._client("cloudwatch")


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse (DESIGN §10).

    Unset fields come from `ELT_WAREHOUSE_URL` and `ELT_WAREHOUSE_SECRET_ARN`, read when an
    asset loads (not EnvVars, which must be set: a code location without a warehouse still
    loads, and says what is missing only when a load is asked for).
    """

    url: str | None = None
    secret_arn: str | None = None

    def get_url(self) -> str:
        import os

        from elt_assets.lib.warehouse import warehouse_url

        environ = dict(os.environ)
        if self.url:
            environ["ELT_WAREHOUSE_URL"] = self.url
        if self.secret_arn:
            environ["ELT_WAREHOUSE_SECRET_ARN"] = self.secret_arn
        return warehouse_url(environ)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "s3": S3Resource(),
            "pipeline": PipelineResource(
                bronze_bucket=dg.EnvVar("ELT_BRONZE_BUCKET"),
                silver_bucket=dg.EnvVar("ELT_SILVER_BUCKET"),
            ),
            "sqs": SQSResource(
                queue_url=dg.EnvVar("ELT_QUEUE_URL"),
                dlq_url=dg.EnvVar("ELT_DLQ_URL"),
            ),
            "cloudwatch": CloudWatchResource(),
            "sns": SNSResource(),
            "warehouse": WarehouseResource(),
        }
    )
