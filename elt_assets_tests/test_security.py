"""Security promises: no record contents in logs at INFO, no secrets in the repo or in the
Lambdas' environment."""

import io
import json
import re
import subprocess
from pathlib import Path

import boto3
import pytest

from lambda_bridge.idempotency import persistence_layer
from lambda_bridge.ingest import Ingester
from lambda_bridge.ingest import make_handler as make_ingest
from lambda_bridge.transform import Transformer
from lambda_bridge.transform import make_handler as make_transform
from lambda_bridge_tests.conftest import aws_env, mocked  # noqa: F401 (fixtures)
from lambda_bridge_tests.test_handlers import Context, queue_messages, s3_event, sqs_event

from .test_terraform import DEV as TF_ROOT
from .test_terraform import parse

REPO = Path(__file__).resolve().parent.parent
SENTINEL = "4111-1111-1111-1111-SENSITIVE"


@pytest.fixture
def lambda_logs():
    """Everything the two Lambdas' Powertools loggers write at INFO, as text."""
    from lambda_bridge import ingest as ingest_module
    from lambda_bridge import transform as transform_module

    buffer = io.StringIO()
    saved = []
    for module in (ingest_module, transform_module):
        handler = module.logger.logger_handler
        saved.append((module.logger, module.logger.log_level, handler, handler.setStream(buffer)))
        module.logger.setLevel("INFO")
    yield buffer
    for logger, level, handler, stream in saved:
        handler.setStream(stream)
        logger.setLevel(level)


def test_the_lambdas_log_keys_and_counts_never_record_contents(mocked, registry, lambda_logs):  # noqa: F811
    s = mocked.settings
    key = "bronze/shipments/dt=2026-01-05/cards.jsonl"
    good = {
        "record_type": "shipments", "event_time": "2026-01-05T03:00:00Z", "shipment_id": SENTINEL,
        "origin": "SZX", "destination": "SEA", "carrier": SENTINEL, "weight_kg": 1.0,
    }  # fmt: skip
    body = "\n".join(
        [json.dumps(good), '{"shipment_id": "' + SENTINEL + '"', json.dumps({**good, "origin": 7})]
    )
    version = boto3.client("s3").put_object(Bucket=s.bronze_bucket, Key=key, Body=body.encode())[
        "VersionId"
    ]
    ingest = make_ingest(
        Ingester(
            s,
            registry,
            boto3.client("sqs"),
            persistence_layer(s.idempotency_table, boto3.client("dynamodb")),
        )
    )
    transform = make_transform(Transformer(s, registry, boto3.client("s3")))
    ingest(s3_event(s.bronze_bucket, key, version), Context())
    (message,) = queue_messages(s)
    assert transform(sqs_event(message["Body"]), Context()) == {"batchItemFailures": []}
    text = lambda_logs.getvalue()
    assert "object transformed" in text and key in text, "the logs were captured"
    assert '"rows_quarantined": 2' in text or '"rows_quarantined":2' in text
    assert SENTINEL not in text


_SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret key assignment": re.compile(
        r"aws_secret_access_key\s*[=:]\s*['\"]?(?!testing|x\b|\{|\$|env)[A-Za-z0-9/+]{40}"
    ),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    # A 12-digit account id inside an ARN; moto's and the docs' placeholders are allowed.
    "account id": re.compile(
        r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(?!000000000000|123456789012)\d{12}:"
    ),
    "machine path": re.compile(r"(?<![\w.])/(home|Users|root|work)/[\w.-]+"),
}


def test_no_secrets_account_ids_or_machine_paths_are_committed():
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in files:
        path = REPO / name
        if not path.is_file() or path.suffix in {".png", ".parquet", ".gz", ".zip"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for what, pattern in _SECRET_PATTERNS.items():
            for match in pattern.finditer(text):
                found.append(f"{name}: {what}: {match.group()[:40]}")
    assert found == []


def test_the_lambda_environments_hold_names_and_references_not_secrets():
    root = parse(TF_ROOT / "main.tf")
    local_maps = {}
    for block in root.get("locals", []):
        local_maps.update({k: v for k, v in block.items() if k.endswith("_environment")})
    assert set(local_maps) == {"ingest_environment", "transform_environment"}
    for name, env in local_maps.items():
        for var, value in env.items():
            assert re.fullmatch(r"(ELT|POWERTOOLS)_[A-Z_]+", var), (name, var)
            assert not re.search(r"SECRET|PASSWORD|TOKEN|ACCESS_KEY", var), (name, var)
            literal = not str(value).startswith("${")
            if var.startswith("ELT_"):
                assert not literal, f"{name}.{var} must come from a resource, not a literal"
