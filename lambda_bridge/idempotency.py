"""Object-level idempotency of ingest: one record per object version in DynamoDB (Powertools).

The ingest Lambda writes the records; `elt where` and the embedded stack read them or create
their table, so this lives apart from the Lambda entry module.
"""

from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)

IDEMPOTENCY_KEY_PREFIX = "elt-ingest"
IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600
# Powertools' DynamoDB layer defaults, named here because Terraform must create the same table.
IDEMPOTENCY_KEY_ATTR = "id"
IDEMPOTENCY_TTL_ATTR = "expiration"


def idempotency_config() -> IdempotencyConfig:
    """Records keyed by the item's `idempotency_key`; an item without one is an error."""
    return IdempotencyConfig(
        event_key_jmespath="idempotency_key",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
    )


def idempotency_key(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """`bucket/key#versionId`, or `bucket/key#etag` when the bucket is unversioned."""
    return f"{bucket}/{key}#{version_id or etag or ''}"


def persistence_layer(table: str, client: Any = None) -> DynamoDBPersistenceLayer:
    """The DynamoDB layer on `table`, with the attribute names Terraform gives the table.

    Args:
        table: The idempotency table's name.
        client: A boto3 DynamoDB client, or None for Powertools' own.
    """
    return DynamoDBPersistenceLayer(
        table_name=table,
        key_attr=IDEMPOTENCY_KEY_ATTR,
        expiry_attr=IDEMPOTENCY_TTL_ATTR,
        boto3_client=client,
    )
