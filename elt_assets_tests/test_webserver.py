"""The Dagster webserver on the embedded stack, read back as a user sees it: over GraphQL as the
UI asks, and in a real browser (Debian's Chromium, driven by Playwright)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from elt_assets.cli.local.stack import ResourceNames, provision
from elt_assets.cli.samples import generate
from elt_assets.definitions import defs as load_definitions
from elt_assets.defs.datasets.assets import gold_key, silver_key

pytestmark = pytest.mark.e2e
DAY = "2026-01-05"
ROWS = 25

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


@dataclass
class UI:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def ui(server_stack, tmp_path_factory) -> Iterator[UI]:
    """A day of shipments replayed, checked, summarised in gold and reported, then
    `dagster-webserver` over the same instance, as `elt dev` serves it."""
    stack = provision(server_stack.endpoint, ResourceNames("ui"))
    home = tmp_path_factory.mktemp("dagster_home")
    # No "join the community" dialog over the pages under test.
    (home / "dagster.yaml").write_text("nux:\n  enabled: false\n")
    env = {**stack.env(), "DAGSTER_HOME": str(home)}
    patch = pytest.MonkeyPatch()
    for key, value in env.items():
        patch.setenv(key, value)
    stack.client("s3").put_object(
        Bucket=stack.settings.bronze_bucket,
        Key=f"bronze/shipments/dt={DAY}/ui.jsonl",
        Body=generate("shipments", count=ROWS).data,
    )
    repo = load_definitions().get_repository_def()
    key = silver_key("shipments")
    job = repo.get_implicit_global_asset_job_def().get_subset(
        asset_selection={key, gold_key("shipments")},
        asset_check_selection=set(repo.asset_graph.get_check_keys_for_assets([key])),
    )
    with dg.DagsterInstance.get() as instance:
        assert job.execute_in_process(partition_key=DAY, instance=instance).success
        report = repo.get_job("daily_report")
        assert report.execute_in_process(partition_key=DAY, instance=instance).success

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-m", "elt_assets.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
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
        yield UI(port)
    finally:
        server.terminate()
        server.wait(timeout=30)
        patch.undo()


def test_the_ui_shows_assets_checks_and_partition_status(ui):
    data = graphql(ui.port, QUERY, {"path": ["silver", "shipments"]})

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


# As the machine's browser runs headless as root on a closed network: no sandbox (root), and
# none of the background connections Chromium would otherwise try at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = "no chromium on PATH: `make test` installs Debian's package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def field_after(page, label: str) -> str:
    """The text the asset page shows under a heading of its overview, e.g. "Row count"."""
    return page.locator(f"xpath=//*[normalize-space(text())='{label}']/following::*[1]").first


def test_the_report_chart_loads_in_the_browser(ui, page, tmp_path: Path):
    page.goto(f"{ui.url}/assets/reports/daily")
    page.get_by_text("[Show Markdown]").first.click()
    chart = page.locator("img[alt='Rows out and quarantined per dataset']")
    chart.wait_for()
    page.wait_for_function("img => img.complete", arg=chart.element_handle())
    page.wait_for_timeout(500)  # the dialog's opening animation, for the screenshot
    page.screenshot(path=tmp_path / "report.png")
    # A broken image is `complete` too, with no size: a loaded chart has its PNG's width.
    assert chart.evaluate("img => img.naturalWidth") > 0
    assert chart.evaluate("img => img.naturalHeight") > 0
    dialog = page.get_by_role("dialog").filter(has_text="Daily pipeline report")
    assert "Daily pipeline report — 2026-01-05" in dialog.inner_text()
    assert "passed" in dialog.inner_text() and "✅" not in dialog.inner_text()


@pytest.mark.parametrize(
    ("asset", "rows", "columns"),
    [
        ("silver/shipments", ROWS, ("shipment_id", "weight_kg", "_source_version", "_line")),
        ("gold/shipments_daily", 1, ("rows_out", "rows_quarantined", "quarantine_by_code")),
    ],
)
def test_an_asset_page_shows_its_columns_row_count_and_owner(ui, page, asset, rows, columns):
    page.goto(f"{ui.url}/assets/{asset}")
    count = field_after(page, "Row count")
    count.wait_for()
    assert count.inner_text().strip() == str(rows)
    table = page.locator("table", has_text="Column name")
    for column in columns:
        assert table.get_by_text(column, exact=True).count() == 1, column
    assert field_after(page, "Owners").inner_text().strip() == "logistics"
    assert page.get_by_text("Source code").count() == 1
