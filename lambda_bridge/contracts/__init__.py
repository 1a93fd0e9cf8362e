"""Dataset contracts: one YAML file per dataset, loaded and validated strictly.

A contract declares the dataset's name, bronze prefix, accepted formats, typed columns, primary
key, partition rule and quality checks. A malformed contract is refused at load with a message
that names the file and the field, so a typo never silently changes what the pipeline accepts.

`document` validates a file, `model` is what it becomes, `types` parses its type names and
`registry` holds a folder of them.
"""

from lambda_bridge.contracts.document import contract_from_dict, load_contract
from lambda_bridge.contracts.model import (
    DEFAULT_MAX_LINE_BYTES,
    EPOCH_UNITS,
    EXTRA_FIELD,
    EXTRA_FIELD_POLICIES,
    FORMATS,
    LINEAGE_FIELDS,
    NAIVE_TIMESTAMP_POLICIES,
    PARTITION_RULES,
    Check,
    Column,
    Contract,
)
from lambda_bridge.contracts.registry import ContractRegistry, default_contracts_dir
from lambda_bridge.contracts.types import parse_type

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "EPOCH_UNITS",
    "EXTRA_FIELD",
    "EXTRA_FIELD_POLICIES",
    "FORMATS",
    "LINEAGE_FIELDS",
    "NAIVE_TIMESTAMP_POLICIES",
    "PARTITION_RULES",
    "Check",
    "Column",
    "Contract",
    "ContractRegistry",
    "contract_from_dict",
    "default_contracts_dir",
    "load_contract",
    "parse_type",
]
