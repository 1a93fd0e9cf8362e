"""Import a Lambda handler from its unpacked package, as the runtime would, and report.

`deploy/build.py --verify` runs this with the target interpreter (`python -S`), the unpacked zip
and the runtime's boto3 as the only path entries; it prints one JSON line.
"""

import datetime
import importlib
import io
import json
import sys

from lambda_bridge.contracts import ContractRegistry

module, _, func = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module), func)
assert callable(handler), sys.argv[1]
registry = ContractRegistry.load()
rows = {}
if module == "lambda_bridge.transform":
    # Exercise what the transform links: msgspec, pyarrow json/compute/csv, Parquet write+read.
    import pyarrow.parquet as pq

    from lambda_bridge.parse import parse_object
    from lambda_bridge.silver import to_parquet, with_lineage

    sample = {
        "string": "x",
        "int64": 1,
        "int32": 1,
        "float64": 1.5,
        "float32": 1.5,
        "bool": True,
        "timestamp": "2024-01-02T03:04:05Z",
        "date": "2024-01-02",
    }
    for contract in registry:
        record = {
            c.name: sample.get(c.type, "1.25" if c.type.startswith("decimal") else ["a"])
            for c in contract.columns
        }
        if contract.formats[0] == "csv":
            header = ",".join(c.name for c in contract.columns)
            line = ",".join(
                str(record[c.name]).lower()
                if isinstance(record[c.name], bool)
                else str(record[c.name])
                for c in contract.columns
            )
            body = (header + "\n" + line + "\n").encode()
        else:
            body = (json.dumps(record) + "\n").encode()
        result = parse_object(body, contract, contract.formats[0])
        table = with_lineage(
            result, contract, "bronze/x", "v1", datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
        )
        back = pq.read_table(io.BytesIO(to_parquet(table)))
        assert back.schema.equals(contract.silver_schema, check_metadata=False), contract.name
        assert back.num_rows == result.rows_out == 1, (contract.name, result.counts_by_code())
        rows[contract.name] = back.num_rows
banned = [m for m in ("dagster", "great_expectations", "polars") if m in sys.modules]
print(
    json.dumps(
        {
            "handler": sys.argv[1],
            "contracts": registry.names,
            "banned": banned,
            "parquet_rows": rows,
        }
    )
)
