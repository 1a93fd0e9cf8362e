"""`elt sql`: a query against the warehouse, printed as a table."""

import datetime as dt
import decimal
import json
from typing import Any

import click

from elt_assets.cli.common import console, table


@click.command("sql")
@click.argument("query")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Print at most this many rows.")  # fmt: skip
def sql(query: str, limit: int) -> int:
    """Run QUERY against the warehouse (ELT_WAREHOUSE_URL) and print the result.

    Tables are `silver.<dataset>` and `gold.<model>`, with a `dt` column, e.g.
    `elt sql "SELECT carrier, sum(shipments) FROM gold.shipments_by_carrier GROUP BY 1"`.
    """
    from elt_assets.lib.warehouse import run_query, warehouse_url

    columns, rows = run_query(warehouse_url(), query)
    out = console()
    if not columns:
        out.print("done (no rows returned)")
        return 0
    result = table(*(f">{c}" if _numeric(rows, i) else c for i, c in enumerate(columns)))
    for row in rows[:limit]:
        result.add_row(*(_cell(value) for value in row))
    out.print(result)
    shown = f", {limit:,} shown" if len(rows) > limit else ""
    out.print(f"{len(rows):,} row(s){shown}")
    return 0


def _numeric(rows: list[tuple[Any, ...]], i: int) -> bool:
    values = [r[i] for r in rows if r[i] is not None]
    numbers = (int, float, decimal.Decimal)
    return bool(values) and all(isinstance(v, numbers) and not isinstance(v, bool) for v in values)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)
