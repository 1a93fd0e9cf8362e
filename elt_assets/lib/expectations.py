"""Great Expectations 1.x suites built from a dataset contract's `checks`.

`great_expectations` is imported lazily, inside `run_expectations`, and never at module
import: importing it takes seconds, and this module is imported by the Dagster code location,
which must load fast. The imported module is cached, so only the first call in a process pays.

The suite runs on an ephemeral (in-memory) context built per call (about 0.1 s): nothing is
written to disk and no state leaks between datasets or partitions.
"""

import datetime as dt
import decimal
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

    from lambda_bridge.contracts import Check, Contract

SAMPLE_SIZE = 5

_gx_module: ModuleType | None = None
_import_lock = threading.Lock()
# GX 1.x validators resolve their context through a process-wide project manager (the most
# recently created context), so two validations running at once in threads could cross.
_validate_lock = threading.Lock()


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation of a contract on one frame.

    Attributes:
        expectation: The snake_case expectation name from the contract.
        kwargs: The expectation's arguments, as written in the contract.
        success: Whether the expectation held.
        element_count: Rows looked at (None for table-level expectations).
        unexpected_count: Rows that broke the expectation (None when not applicable).
        unexpected_percent: Share of the non-null rows that broke it, in percent; None when
            there were no rows to look at.
        sample: Up to five offending values, JSON-safe.
        error: Why the expectation could not be evaluated (e.g. a missing column), else None.
    """

    expectation: str
    kwargs: dict[str, Any]
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample: list[Any] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the outcome."""
        return asdict(self)


def run_expectations(df: "pd.DataFrame", contract: "Contract") -> list[ExpectationOutcome]:
    """Validate a frame of silver rows against the contract's Great Expectations checks.

    Decimal columns are validated as float64. Contract bounds are YAML numbers, i.e. floats,
    and comparing an exact `Decimal("0.10")` with the float `0.1` (which is slightly larger)
    would report 0.10 as below a minimum of 0.1. Converted, both sides round the same way;
    the cost is precision beyond about 15 significant digits, far below what checks compare.

    Args:
        df: The rows, e.g. `pyarrow.Table.to_pandas()` of a silver partition. An empty frame
            is valid: column expectations then pass with `element_count` 0.
        contract: The dataset's contract; its `checks` become the suite.

    Returns:
        One outcome per check, in the contract's order.

    Raises:
        ValueError: a check names an expectation GX does not know, or its arguments do not
            fit that expectation.
    """
    gx = _import_gx()
    expectations = [_build_expectation(check, contract.name) for check in contract.checks]
    if not expectations:
        return []
    frame = _for_validation(df, contract)

    from great_expectations.data_context.types.base import ProgressBarsConfig

    with _validate_lock:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        batch_definition = (
            context.data_sources.add_pandas(name=f"{contract.name}_frames")
            .add_dataframe_asset(name=contract.name)
            .add_batch_definition_whole_dataframe(name="whole_frame")
        )
        suite = gx.ExpectationSuite(name=f"{contract.name}_contract")
        for expectation in expectations:
            suite.add_expectation(expectation)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            suite,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
        )

    # Results are paired with checks by position, which holds because GX keeps suite order;
    # checked, so that a GX change fails loudly instead of mislabelling outcomes.
    types = [evr.expectation_config.type for evr in result.results]
    if types != [check.expectation for check in contract.checks]:
        msg = f"dataset {contract.name!r}: GX returned results for {types}, not the suite's order"
        raise RuntimeError(msg)
    return [
        _outcome(check, evr) for check, evr in zip(contract.checks, result.results, strict=True)
    ]


def _import_gx() -> ModuleType:
    global _gx_module
    if _gx_module is not None:
        return _gx_module
    with _import_lock:
        if _gx_module is None:
            # Only GX reads these; setdefault leaves an operator's own choice in place.
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
            gx_logger = logging.getLogger("great_expectations")
            if gx_logger.level == logging.NOTSET:
                gx_logger.setLevel(logging.WARNING)
            import great_expectations as gx

            _gx_module = gx
    return _gx_module


def _build_expectation(check: "Check", dataset: str) -> Any:
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        cls = get_expectation_impl(check.expectation)
    except ExpectationNotFoundError:
        msg = (
            f"dataset {dataset!r}: unknown expectation {check.expectation!r} "
            f"(not in great_expectations.expectations)"
        )
        raise ValueError(msg) from None
    try:
        return cls(**dict(check.kwargs))
    except (TypeError, ValueError) as exc:
        # pydantic's ValidationError is a ValueError; its text lists the offending fields.
        msg = f"dataset {dataset!r}: bad arguments for {check.expectation}: {exc}"
        raise ValueError(msg) from None


def _for_validation(df: "pd.DataFrame", contract: "Contract") -> "pd.DataFrame":
    decimals = [
        c.name
        for c in contract.columns
        if pa.types.is_decimal(c.arrow_type) and c.name in df.columns
    ]
    if not decimals:
        return df
    return df.assign(**{name: df[name].astype("float64") for name in decimals})


def _outcome(check: "Check", evr: Any) -> ExpectationOutcome:
    result = dict(evr.result or {})
    percent = result.get("unexpected_percent")
    return ExpectationOutcome(
        expectation=check.expectation,
        kwargs=_json_safe(dict(check.kwargs)),
        success=bool(evr.success),
        element_count=_int_or_none(result.get("element_count")),
        unexpected_count=_int_or_none(result.get("unexpected_count")),
        unexpected_percent=None if percent is None else float(percent),
        sample=[_json_safe(v) for v in (result.get("partial_unexpected_list") or [])][:SAMPLE_SIZE],
        error=_error_of(evr.exception_info),
    )


def _error_of(info: Any) -> str | None:
    if not isinstance(info, Mapping):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    # When a metric fails, GX keys the exception info by metric id instead: the first
    # message is the cause (the same one usually repeats for each dependent metric).
    for nested in info.values():
        if isinstance(nested, Mapping) and nested.get("raised_exception"):
            return str(nested.get("exception_message"))
    return None


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_json_safe(v) for v in value]
    # numpy scalars and arrays, pandas Timestamp/NaT: convert through their Python values.
    if hasattr(value, "tolist"):
        return _json_safe(value.tolist())
    if hasattr(value, "item"):
        return _json_safe(value.item())
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
