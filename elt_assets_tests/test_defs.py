"""The code location's shape: what it defines, and which rooms may import Dagster.

The snapshot makes an accidental change to the graph (a renamed asset, a lost check, a job that
disappeared) a visible diff; change it on purpose, with the code.
"""

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from elt_assets.definitions import defs as load_definitions
from elt_assets.defs.datasets.assets import silver_key

REPO = Path(__file__).resolve().parent.parent
DATASETS = (
    "invoice_lines",
    "shipments",
    "tracking_events",
    "transactions",
    "fx_rates",
    "merchants",
)
REFERENCES = ("fx_rates", "merchants")
KEYED = ("invoice_lines", "shipments", "tracking_events", "transactions")  # get `<ds>_current`
MODELS = ("shipment_status", "shipments_by_carrier", "transactions_enriched")
CHECKS = ("conservation", "expectations", "quarantine_rate", "schema", "volume")

EXPECTED_ASSETS = sorted(
    [f"{layer}/{d}" for d in DATASETS for layer in ("bronze", "silver")]
    + [f"gold/{d}_daily" for d in DATASETS]
    + [f"gold/{d}_current" for d in KEYED]
    + [f"gold/{m}" for m in MODELS]
    + [f"warehouse/{t}" for t in (*DATASETS, *MODELS, *(f"{d}_current" for d in KEYED))]
    + ["ops/dlq", "ops/events_queue", "reports/daily"]
)
EXPECTED_CHECKS = sorted(f"silver/{d}:{c}" for d in DATASETS for c in CHECKS)
EXPECTED_JOBS = ["daily_report", "dlq_redrive", "quality_gate", "silver_checks"]
EXPECTED_SENSORS = [
    "dlq_auto_redrive",
    "gold_and_warehouse_automation",
    "landings",
    "queue_depth",
    "report_after_gate_failure",
    "report_after_gate_success",
]
EXPECTED_SCHEDULES = ["daily_quality_gate"]
EXPECTED_RESOURCES = ["cloudwatch", "pipeline", "s3", "sns", "sqs", "warehouse"]


@pytest.fixture(scope="module")
def repo():
    return load_definitions().get_repository_def()


def test_the_definitions_are_the_ones_we_ship(repo):
    assert sorted(k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()) == (
        EXPECTED_ASSETS
    )
    checks = sorted(
        f"{k.asset_key.to_user_string()}:{k.name}" for k in repo.asset_graph.asset_check_keys
    )
    assert checks == EXPECTED_CHECKS
    assert sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")) == (
        EXPECTED_JOBS
    )
    assert sorted(s.name for s in repo.sensor_defs) == EXPECTED_SENSORS
    assert sorted(s.name for s in repo.schedule_defs) == EXPECTED_SCHEDULES
    assert sorted(repo.get_top_level_resources()) == EXPECTED_RESOURCES


def test_every_silver_check_is_blocking_and_partitioned(repo):
    for key in repo.asset_graph.asset_check_keys:
        spec = repo.asset_graph.get_check_spec(key)
        assert spec.blocking, key
        assert spec.partitions_def is not None, key


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_lib_is_plain_python():
    offenders = {
        p.relative_to(REPO).as_posix(): sorted(_imports(p) & {"dagster", "dagster_aws"})
        for p in (REPO / "elt_assets" / "lib").rglob("*.py")
    }
    assert {p: names for p, names in offenders.items() if names} == {}


def test_importing_every_lib_module_loads_no_dagster():
    modules = sorted(
        "elt_assets.lib." + p.stem
        for p in (REPO / "elt_assets" / "lib").glob("*.py")
        if p.stem != "__init__"
    )
    code = f"import sys; import {', '.join(modules)}; print('dagster' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"


def _specs(repo):
    for key, assets_def in repo.assets_defs_by_key.items():
        yield key, assets_def.specs_by_key[key]


def test_bronze_silver_and_gold_carry_their_medallion_kind(repo):
    layers = {}
    for key, spec in _specs(repo):
        if key.path[0] in ("bronze", "silver", "gold"):
            layers[key.to_user_string()] = key.path[0] in spec.kinds
    medallion = [k for k in EXPECTED_ASSETS if k.split("/")[0] in ("bronze", "silver", "gold")]
    assert sorted(layers) == medallion and all(layers.values()), layers


def test_descriptions_show_key_templates_as_code_not_html(repo):
    # The UI renders descriptions as markdown: a bare <D> is an HTML tag and disappears.
    for key, spec in _specs(repo):
        outside_code = "".join((spec.description or "").split("`")[::2])
        assert "<" not in outside_code, (key, spec.description)


def test_every_job_runs_in_one_process(repo):
    assert {j.name: j.executor_def.name for j in repo.get_all_jobs()} == {
        name: "in_process" for name in ["__ASSET_JOB", *EXPECTED_JOBS]
    }


def test_silver_shows_the_contract_schema_with_lineage(repo, registry):
    for contract in registry:
        spec = repo.assets_defs_by_key[silver_key(contract.name)].specs_by_key[
            silver_key(contract.name)
        ]
        schema = spec.metadata["dagster/column_schema"]
        assert [(c.name, c.type) for c in schema.columns] == [
            (f.name, str(f.type)) for f in contract.silver_schema
        ]
        required = {c.name for c in contract.columns if c.required}
        assert {c.name for c in schema.columns if not c.constraints.nullable} >= required


def test_the_volume_check_can_be_turned_off_for_an_expected_empty_dataset(registry):
    from elt_assets.defs.datasets.checks import volume_result

    shipments = registry["shipments"]
    assert shipments.expect_daily_data
    assert not volume_result(shipments, [], objects_day_before=3).passed
    quiet = dataclasses.replace(shipments, expect_daily_data=False)
    allowed = volume_result(quiet, [], objects_day_before=3)
    assert allowed.passed
    assert "allowed: quality.expect_daily_data is false" in allowed.description


def test_lineage_is_one_graph_from_bronze_to_the_report(repo):
    graph = repo.asset_graph

    def parents(key: str) -> set[str]:
        return {
            p.to_user_string() for p in graph.get(dg.AssetKey.from_user_string(key)).parent_keys
        }

    assert parents("ops/events_queue") == {f"bronze/{d}" for d in DATASETS}
    assert parents("ops/dlq") == {"ops/events_queue"}
    for d in DATASETS:
        assert parents(f"silver/{d}") == {f"bronze/{d}", "ops/events_queue"}
        assert parents(f"gold/{d}_daily") == {f"silver/{d}"}
        assert parents(f"warehouse/{d}") == {f"silver/{d}"}
    assert parents("reports/daily") == {f"gold/{d}_daily" for d in DATASETS}
    # Models: their tables, read from the SQL; references (ref.*) are silver of their dataset.
    assert parents("gold/shipments_by_carrier") == {"silver/shipments"}
    assert parents("gold/shipment_status") == {"silver/shipments", "silver/tracking_events"}
    assert parents("gold/transactions_enriched") == {
        "silver/transactions", "silver/fx_rates", "silver/merchants"}  # fmt: skip
    for d in KEYED:
        assert parents(f"gold/{d}_current") == {f"silver/{d}"}
        assert parents(f"warehouse/{d}_current") == {f"gold/{d}_current"}
    for m in MODELS:
        assert parents(f"warehouse/{m}") == {f"gold/{m}"}


def test_a_window_model_reads_a_week_and_a_reference_whole(repo):
    """Partition D of shipment_status (`-- window: 7d`) needs D-6..D of its silver inputs;
    transactions_enriched reads the FX rates of every day."""
    graph = repo.asset_graph
    status = graph.get(dg.AssetKey.from_user_string("gold/shipment_status"))
    mapping = repo.assets_defs_by_key[status.key].get_partition_mapping(
        dg.AssetKey.from_user_string("silver/shipments")
    )
    assert isinstance(mapping, dg.TimeWindowPartitionMapping)
    assert (mapping.start_offset, mapping.end_offset) == (-6, 0)
    enriched = repo.assets_defs_by_key[dg.AssetKey.from_user_string("gold/transactions_enriched")]
    fx = enriched.get_partition_mapping(dg.AssetKey.from_user_string("silver/fx_rates"))
    assert isinstance(fx, dg.AllPartitionMapping)


def test_assets_show_owners_code_and_tables_in_the_ui(repo):
    """What an asset page shows beside the graph: who owns it (the contract's `owners`), the
    code that defines it, and the table it holds (silver: the contract's columns; gold: the
    daily summary's)."""
    graph = repo.asset_graph
    for d in DATASETS:
        finance = ("transactions", "invoice_lines", *REFERENCES)
        team = "team:finance" if d in finance else "team:logistics"
        for key in (f"bronze/{d}", f"silver/{d}", f"gold/{d}_daily"):
            node = graph.get(dg.AssetKey.from_user_string(key))
            assert node.owners == [team], key
            (reference,) = node.metadata["dagster/code_references"].code_references
            assert reference.file_path.endswith("elt_assets/defs/datasets/assets.py"), key
        silver = graph.get(dg.AssetKey.from_user_string(f"silver/{d}"))
        columns = [c.name for c in silver.metadata["dagster/column_schema"].columns]
        assert columns[-4:] == ["_source_key", "_source_version", "_line", "_ingested_at"]
        gold = graph.get(dg.AssetKey.from_user_string(f"gold/{d}_daily"))
        assert "rows_quarantined" in [
            c.name for c in gold.metadata["dagster/column_schema"].columns
        ]
