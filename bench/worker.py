"""The benchmark's subprocess entry: `python -m bench.worker <command> --payload JSON --out PATH`.

`bench.run` starts one of these per measurement that needs a fresh process (a thread-count
configuration, a peak-memory reading, the embedded stack). Each command's module is imported
only here, after the parent has set the environment (POLARS_MAX_THREADS), never at the top.
"""

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _command(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if name == "throughput":
        from bench.throughput import measure
    elif name == "rss":
        from bench.memory import measure
    elif name == "latency":
        from bench.latency import measure
    elif name == "dagster":
        from bench.dagster import measure
    elif name == "gold":
        from bench.gold import measure
    elif name == "chunks":
        from bench.chunks import measure
    else:
        msg = f"unknown worker command {name!r}"
        raise SystemExit(msg)
    return measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "command", choices=["throughput", "rss", "latency", "dagster", "gold", "chunks"]
    )
    parser.add_argument("--payload", required=True, help="the measurement's parameters, as JSON")
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON answer")
    args = parser.parse_args()
    answer = _command(args.command)(json.loads(args.payload))
    args.out.write_text(json.dumps(answer), encoding="utf-8")


if __name__ == "__main__":
    main()
