import os

import boto3
import pytest
from moto import mock_aws

from elt_assets.cli.local.stack import ResourceNames, provision
from lambda_bridge.contracts import ContractRegistry

GOOD_SHIPMENT = (
    b'{"record_type":"shipments","event_time":"2026-01-05T03:00:00+00:00","shipment_id":"shp_1",'
    b'"origin":"SZX","destination":"SEA","carrier":"UPS","weight_kg":12.5}'
)


@pytest.fixture(scope="session")
def registry() -> ContractRegistry:
    return ContractRegistry.load()


@pytest.fixture
def aws_env(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture
def mocked(aws_env):
    """In-process moto with the stack's resources (the same `provision` the embedded stack uses)."""
    with mock_aws():
        stack = provision(endpoint=None, names=ResourceNames("t"))
        yield stack


def s3_client():
    return boto3.client("s3", region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
