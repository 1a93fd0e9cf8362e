import dataclasses
import decimal
import json
import subprocess
import sys
import time

import pandas as pd
import pytest

from elt_assets.cli.samples import generate
from elt_assets.lib.expectations import ExpectationOutcome, run_expectations
from lambda_bridge.contracts import Check, ContractRegistry
from lambda_bridge.parse import parse_object


@pytest.fixture(scope="module")
def contracts():
    return ContractRegistry.load()


def _frame(contracts, dataset: str, fmt: str = "jsonl", count: int = 200) -> pd.DataFrame:
    data = generate(dataset, fmt, count, seed=1).data
    return parse_object(data, contracts[dataset], fmt).table.to_pandas()


@pytest.fixture(scope="module")
def shipments(contracts):
    return _frame(contracts, "shipments")


def test_generated_shipments_pass_every_expectation(contracts, shipments):
    outcomes = run_expectations(shipments, contracts["shipments"])

    assert [o.expectation for o in outcomes] == [
        c.expectation for c in contracts["shipments"].checks
    ]
    assert all(o.success for o in outcomes), [o for o in outcomes if not o.success]
    assert all(o.element_count == len(shipments) for o in outcomes)
    assert all(o.unexpected_count == 0 and o.sample == [] and o.error is None for o in outcomes)


@pytest.mark.parametrize(
    ("dataset", "fmt"),
    [("tracking_events", "jsonl"), ("invoice_lines", "jsonl"), ("transactions", "csv")],
)
def test_generated_data_of_every_dataset_passes(contracts, dataset, fmt):
    outcomes = run_expectations(_frame(contracts, dataset, fmt), contracts[dataset])

    assert len(outcomes) == len(contracts[dataset].checks)
    assert all(o.success for o in outcomes), [o for o in outcomes if not o.success]


def test_bad_weight_and_bad_id_fail_exactly_the_between_and_regex_checks(contracts, shipments):
    bad = shipments.copy()
    bad.loc[3, "weight_kg"] = -5.0
    bad.loc[7, "shipment_id"] = "SHIP-7"

    outcomes = {o.expectation: o for o in run_expectations(bad, contracts["shipments"])}

    failed = sorted(name for name, o in outcomes.items() if not o.success)
    assert failed == ["expect_column_values_to_be_between", "expect_column_values_to_match_regex"]
    between = outcomes["expect_column_values_to_be_between"]
    assert (between.unexpected_count, between.sample) == (1, [-5.0])
    assert between.kwargs == {"column": "weight_kg", "min_value": 0, "max_value": 30000}
    regex = outcomes["expect_column_values_to_match_regex"]
    assert (regex.unexpected_count, regex.sample) == (1, ["SHIP-7"])
    assert regex.element_count == len(bad)
    assert regex.unexpected_percent == pytest.approx(100 / len(bad))


def test_an_empty_frame_is_reported_not_crashed(contracts, shipments):
    outcomes = run_expectations(shipments.iloc[0:0], contracts["shipments"])

    assert len(outcomes) == len(contracts["shipments"].checks)
    assert all(o.success and o.element_count == 0 and o.error is None for o in outcomes)


def test_decimals_compare_with_float_bounds_as_written(contracts):
    # Decimal("0.10") is below the float 0.1; validated as float it is equal, as meant.
    contract = dataclasses.replace(
        contracts["invoice_lines"],
        checks=(
            Check(
                "expect_column_values_to_be_between",
                {"column": "unit_price", "min_value": 0.1, "max_value": 99.99},
            ),
        ),
    )
    frame = pd.DataFrame(
        {"unit_price": [decimal.Decimal("0.10"), decimal.Decimal("99.99"), None]}, dtype=object
    )

    [outcome] = run_expectations(frame, contract)

    assert outcome.success, outcome
    assert outcome.element_count == 3


def test_timestamps_and_dates_in_a_sample_are_json_safe(contracts, shipments):
    contract = dataclasses.replace(
        contracts["shipments"],
        checks=(
            Check(
                "expect_column_values_to_be_between",
                {"column": "event_time", "max_value": "2000-01-01T00:00:00Z"},
            ),
        ),
    )

    [outcome] = run_expectations(shipments.head(3), contract)

    assert not outcome.success and outcome.unexpected_count == 3
    assert outcome.sample == [ts.isoformat() for ts in shipments["event_time"].head(3)]
    json.dumps(outcome.to_dict())


def test_a_missing_column_is_an_error_outcome(contracts, shipments):
    [outcome] = run_expectations(
        shipments.drop(columns=["carrier"]),
        dataclasses.replace(contracts["shipments"], checks=contracts["shipments"].checks[3:]),
    )

    assert not outcome.success
    assert "carrier" in outcome.error


def test_an_unknown_expectation_name_raises_naming_it(contracts, shipments):
    contract = dataclasses.replace(
        contracts["shipments"],
        checks=(Check("expect_column_values_to_be_purple", {"column": "carrier"}),),
    )

    with pytest.raises(ValueError, match=r"'shipments'.*expect_column_values_to_be_purple"):
        run_expectations(shipments, contract)


def test_bad_arguments_raise_naming_the_expectation(contracts, shipments):
    contract = dataclasses.replace(
        contracts["shipments"],
        checks=(Check("expect_column_values_to_be_between", {"colum": "weight_kg"}),),
    )

    with pytest.raises(ValueError, match="bad arguments for expect_column_values_to_be_between"):
        run_expectations(shipments, contract)


def test_outcome_to_dict_round_trips_through_json():
    outcome = ExpectationOutcome("expect_x", {"column": "a"}, False, 10, 2, 20.0, ["b"], None)

    assert json.loads(json.dumps(outcome.to_dict())) == dataclasses.asdict(outcome)


def test_repeated_calls_are_fast(contracts, shipments):
    run_expectations(shipments, contracts["shipments"])
    start = time.perf_counter()
    for _ in range(3):
        run_expectations(shipments, contracts["shipments"])
    per_call = (time.perf_counter() - start) / 3

    assert per_call < 1.0, f"{per_call:.2f} s per call"


def test_importing_the_module_does_not_import_great_expectations():
    code = "import sys, elt_assets.lib.expectations; print('great_expectations' in sys.modules)"

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout

    assert out.strip() == "False"
