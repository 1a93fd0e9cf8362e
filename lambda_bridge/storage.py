"""S3 access the hot path and the control plane share: JSON objects, and "it is not there"."""

import json
from typing import Any

from botocore.exceptions import ClientError

# What S3 answers for a key or version that does not exist: GetObject says NoSuchKey or
# NoSuchVersion, HeadObject (which has no body to explain in) only 404 / NotFound.
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


def is_missing(exc: ClientError) -> bool:
    """Whether an S3 error says the object (or the version asked for) does not exist."""
    return str(exc.response.get("Error", {}).get("Code")) in MISSING_CODES


def read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The JSON object at `s3://bucket/key` (a manifest, an index record), or None when the
    key does not exist.

    Raises:
        botocore.exceptions.ClientError: any other S3 failure (access, throttling).
    """
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    return json.loads(body)
