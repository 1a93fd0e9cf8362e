"""`elt scaffold <dataset>`: a new dataset's contract, a sample file and a test, ready to edit.

The contract is validated the way the pipeline will load it (including that its bronze prefix
overlaps no other dataset's) before anything is written, and the sample and test show the
contract at work: the sample's good lines reach silver and its one bad line is quarantined.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from lambda_bridge.contracts import FORMATS, ContractRegistry, contract_from_dict
from lambda_bridge.exceptions import EltError


@dataclass(frozen=True)
class Scaffolded:
    contract: Path
    sample: Path
    test: Path


def contract_document(dataset: str, fmt: str) -> dict:
    return {
        "name": dataset,
        "description": f"{dataset}: describe who produces it and what one record is.",
        "bronze_prefix": f"bronze/{dataset}/",
        "formats": [fmt],
        "columns": [
            {"name": "id", "type": "string", "required": True, "description": "Unique per record."},
            {
                "name": "event_time",
                "type": "timestamp",
                "required": True,
                "description": "ISO 8601; offsets are normalised to UTC, naive times read as UTC.",
            },
            {"name": "amount", "type": "float64"},
            {"name": "note", "type": "string"},
        ],
        "primary_key": ["id"],
        "partition": "arrival_date",
        "extra_fields": "drop",
        "naive_timestamps": "utc",
        "quality": {"max_quarantine_rate": 0.05},
        "checks": [
            {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
            {"expectation": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
        ],
    }


_GOOD = [
    {"id": "a1", "event_time": "2026-01-05T03:00:00+01:00", "amount": 12.5, "note": "first"},
    {"id": "a2", "event_time": "2026-01-05T04:30:00Z", "amount": None, "note": None},
    {"id": "a3", "event_time": "2026-01-05 05:00:00", "amount": 3, "note": "naive time: UTC"},
]
_BAD_JSON = '{"id": "a4", "event_time": "not a time", "amount": 1.0}'
_BAD_CSV = "a4,not a time,1.0,"


def sample_text(fmt: str) -> str:
    """Three good records and, last, one that the contract quarantines (`type_mismatch`)."""
    if fmt == "csv":
        rows = ["id,event_time,amount,note"]
        for r in _GOOD:
            values = [r["id"], r["event_time"], r["amount"], r["note"]]
            rows.append(",".join("" if v is None else str(v) for v in values))
        return "\n".join([*rows, _BAD_CSV]) + "\n"
    lines = [json.dumps(r) for r in _GOOD] + [_BAD_JSON]
    if fmt == "json":
        return "[\n  " + ",\n  ".join(lines) + "\n]\n"
    return "\n".join(lines) + "\n"


_TEST = '''"""The {dataset} contract against its sample (written by `elt scaffold`; edit both freely)."""

from pathlib import Path

from lambda_bridge.contracts import load_contract
from lambda_bridge.parse import parse_object

HERE = Path(__file__).resolve().parent
CONTRACT = HERE / {contract}
SAMPLE = HERE / {sample}


def test_the_sample_reaches_silver_except_its_bad_record():
    contract = load_contract(CONTRACT)
    result = parse_object(SAMPLE.read_bytes(), contract, {fmt})
    assert result.table.schema == contract.parsed_schema
    assert result.rows_out == {good}
    assert [(bad.line, bad.code.value) for bad in result.bad] == [({bad_line}, "type_mismatch")]
'''


def scaffold(
    dataset: str,
    fmt: str,
    contracts_dir: Path,
    samples_dir: Path,
    tests_dir: Path,
    force: bool = False,
) -> Scaffolded:
    """Write the contract, sample and test for `dataset`; refuse to overwrite unless `force`.

    Raises:
        EltError: the name is not a valid dataset name, a file exists, or the new contract
            does not fit beside the existing ones (e.g. an overlapping bronze prefix).
    """
    if fmt not in FORMATS:
        msg = f"format must be one of {', '.join(FORMATS)}, got {fmt!r}"
        raise EltError(msg)
    paths = Scaffolded(
        contract=contracts_dir / f"{dataset}.yaml",
        sample=samples_dir / f"{dataset}.{fmt}",
        test=tests_dir / f"test_{dataset}_contract.py",
    )
    existing = [p for p in (paths.contract, paths.sample, paths.test) if p.exists()]
    if existing and not force:
        msg = f"{existing[0]} already exists (use --force to overwrite)"
        raise EltError(msg)
    doc = contract_document(dataset, fmt)
    contract = contract_from_dict(doc, str(paths.contract))  # raises ContractError, an EltError
    others = (
        [c for c in ContractRegistry.load(contracts_dir) if c.name != dataset]
        if any(contracts_dir.glob("*.y*ml"))
        else []
    )
    ContractRegistry([*others, contract])  # refuses an overlapping bronze prefix
    for path in (paths.contract, paths.sample, paths.test):
        path.parent.mkdir(parents=True, exist_ok=True)
    paths.contract.write_text(
        f"# The {dataset} dataset's contract (written by `elt scaffold`; see README, Contracts).\n"
        + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    paths.sample.write_text(sample_text(fmt), encoding="utf-8")
    bad_line = 5 if fmt == "csv" else 4
    paths.test.write_text(
        _TEST.format(
            dataset=dataset,
            contract=json.dumps(_relative(paths.contract, tests_dir)),
            sample=json.dumps(_relative(paths.sample, tests_dir)),
            fmt=json.dumps(fmt),
            good=len(_GOOD),
            bad_line=bad_line,
        ),
        encoding="utf-8",
    )
    return paths


def _relative(path: Path, start: Path) -> str:
    """`path` as seen from `start`, so the test works from any checkout or working directory."""
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
