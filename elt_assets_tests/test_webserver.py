"""The Dagster webserver on the embedded stack, read back over its GraphQL API as the UI does."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import dagster as dg
import pytest

from elt_assets.cli.samples import generate
from elt_assets.definitions import defs as load_definitions
from elt_assets.defs.datasets.assets import silver_key

pytestmark = pytest.mark.e2e
DAY = "2026-01-05"

QUERY = """
query($path: [String!]!) {
  assetNodes { assetKey { path } }
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      partitionDefinition { type }
      assetPartitionStatuses { ... on TimePartitionStatuses { ranges { status startKey endKey } } }
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            blocking
            partitionStatuses { ... on AssetCheckTimePartitionStatuses { ranges { status startKey endKey } } }
          }
        }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def test_the_ui_shows_assets_checks_and_partition_status(stack, monkeypatch, tmp_path):
    env = {**stack.env(), "DAGSTER_HOME": str(tmp_path)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    stack.client("s3").put_object(
        Bucket=stack.settings.bronze_bucket,
        Key=f"bronze/shipments/dt={DAY}/ui.jsonl",
        Body=generate("shipments", count=25).data,
    )
    defs = load_definitions()
    repo = defs.get_repository_def()
    key = silver_key("shipments")
    job = repo.get_implicit_global_asset_job_def().get_subset(
        asset_selection={key},
        asset_check_selection=set(repo.asset_graph.get_check_keys_for_assets([key])),
    )
    with dg.DagsterInstance.get() as instance:
        assert job.execute_in_process(partition_key=DAY, instance=instance).success

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-m",
            "elt_assets.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env={**__import__("os").environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the webserver did not come up: {server.stderr.read()[-2000:]}")
                time.sleep(0.5)
        data = graphql(port, QUERY, {"path": ["silver", "shipments"]})
    finally:
        server.terminate()
        server.wait(timeout=30)

    paths = {tuple(node["assetKey"]["path"]) for node in data["assetNodes"]}
    for name in ("shipments", "tracking_events", "invoice_lines", "transactions"):
        assert {("bronze", name), ("silver", name), ("gold", f"{name}_daily")} <= paths
    node = data["assetNodeOrError"]
    assert node["partitionDefinition"]["type"] == "TIME_WINDOW"
    assert {"status": "MATERIALIZED", "startKey": DAY, "endKey": DAY} in node[
        "assetPartitionStatuses"
    ]["ranges"]
    checks = {c["name"]: c for c in node["assetChecksOrError"]["checks"]}
    assert set(checks) == {"conservation", "quarantine_rate", "schema", "expectations", "volume"}
    for check in checks.values():
        assert check["blocking"] is True
        assert {"status": "SUCCEEDED", "startKey": DAY, "endKey": DAY} in check[
            "partitionStatuses"
        ]["ranges"]
