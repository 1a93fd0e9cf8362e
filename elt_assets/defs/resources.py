"""Every external system as a ConfigurableResource, wired from the environment with dg.EnvVar.

boto3 itself honours AWS_ENDPOINT_URL, AWS_REGION and the credential variables, so the clients
here take no endpoint unless one is configured explicitly.
"""

from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from lambda_bridge.config import Settings
from lambda_bridge.contracts import ContractRegistry


class PipelineResource(dg.ConfigurableResource):
    """Where the pipeline's data lives, and its dataset contracts."""

    bronze_bucket: str
    silver_bucket: str
    contracts_dir: str | None = None

    def registry(self) -> ContractRegistry:
        return ContractRegistry.load(self.contracts_dir or Settings.from_env().contracts_dir)


class SQSResource(dg.ConfigurableResource):
    """The events queue, its DLQ and (optionally) the landings queue of new manifests."""

    queue_url: str
    dlq_url: str
    landings_queue_url: str | None = None
    region_name: str | None = None
    endpoint_url: str | None = None

    def get_client(self) -> Any:
        import boto3

        return boto3.client("sqs", region_name=self.region_name, endpoint_url=self.endpoint_url)

    def landings_url(self) -> str:
        """Optional, so not an EnvVar (which must be set): read when a sensor ticks."""
        return self.landings_queue_url or Settings.from_env().landings_queue_url


class DynamoDBResource(dg.ConfigurableResource):
    """The ingest idempotency table (read by `elt where`-style lookups)."""

    table_name: str
    region_name: str | None = None
    endpoint_url: str | None = None

    def get_client(self) -> Any:
        import boto3

        return boto3.client(
            "dynamodb", region_name=self.region_name, endpoint_url=self.endpoint_url
        )


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
            "dynamodb": DynamoDBResource(table_name=dg.EnvVar("ELT_IDEMPOTENCY_TABLE")),
        }
    )
