"""The PostgreSQL warehouse: DDL from Arrow schemas, atomic partition loads, queries.

A partition load replaces day D of `"<schema>"."<table>"` in one transaction, bulk loaded through
Arrow with ADBC's PostgreSQL driver (binary COPY under the hood); reads and admin go through
psycopg. Plain Python: the CLI and the Dagster assets both call it.
"""

import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import pyarrow as pa
from psycopg import sql

from elt_assets.lib.pg_types import is_nested as _is_nested
from elt_assets.lib.pg_types import pg_type
from lambda_bridge.exceptions import EltError

DT_COLUMN = "dt"
_MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1; longer names are silently truncated
_STAGING_TABLE = "_elt_staging"
_MASK = "***"


class WarehouseError(EltError):
    """A warehouse operation failed; the message names the table and day, never a password."""


@dataclass(frozen=True)
class LoadResult:
    """What one partition load did.

    Attributes:
        rows: Rows of the day now in the table.
        seconds: Wall time of the whole transaction, connect included.
    """

    rows: int
    seconds: float


def create_table_sql(schema_name: str, table: str, arrow_schema: pa.Schema) -> str:
    """The DDL of a warehouse table: `dt date NOT NULL`, then the schema's columns in order.

    Args:
        schema_name: PostgreSQL schema (`silver` or `gold`).
        table: Table name; quoted, so any spelling works.
        arrow_schema: The columns; a non-nullable field becomes `NOT NULL`.

    Returns:
        `CREATE TABLE IF NOT EXISTS ...;` and `CREATE INDEX IF NOT EXISTS ... (dt)`, separated
        by a semicolon and a newline.

    Raises:
        ValueError: A type has no mapping, a name is too long for PostgreSQL, or a column is
            called `dt` (the partition column).
    """
    return ";\n".join(_ddl_statements(schema_name, table, arrow_schema))


def load_partition(
    url: str,
    schema_name: str,
    table: str,
    day: dt.date | str,
    arrow_table: pa.Table,
) -> LoadResult:
    """Replace day `day` of a warehouse table with `arrow_table`, atomically and idempotently.

    One transaction creates the schema, table and index if missing, deletes the day's rows and
    bulk loads the new ones with `dt = day`; readers see the old day until the commit, then the
    new one. Loading the same data twice leaves the same rows; other days are untouched.

    Args:
        url: `postgresql://user[:password]@host:port/db` (`ELT_WAREHOUSE_URL`).
        schema_name: PostgreSQL schema (`silver` or `gold`).
        table: Table name.
        day: The partition, as a date or `YYYY-MM-DD`.
        arrow_table: The day's rows, in the table's column types (see `pg_type`).

    Returns:
        The rows loaded and the seconds the transaction took.

    Raises:
        ValueError: A column type has no mapping, or `day` is not a date.
        WarehouseError: The load failed and was rolled back; the previous day is intact.
    """
    import adbc_driver_postgresql.dbapi as adbc

    day = _as_date(day)
    ddl = _ddl_statements(schema_name, table, arrow_table.schema)
    started = time.perf_counter()
    try:
        data = _with_dt(arrow_table, day)
        with adbc.connect(url) as conn:
            try:
                with conn.cursor() as cur:
                    cur.execute(_compose(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}"), schema_name))
                    for statement in ddl:
                        cur.execute(statement)
                    cur.execute(
                        sql.SQL("DELETE FROM {} WHERE {} = {}")
                        .format(
                            sql.Identifier(schema_name, table),
                            sql.Identifier(DT_COLUMN),
                            sql.Literal(day),
                        )
                        .as_string()
                    )
                    _bulk_load(cur, schema_name, table, data)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
    except Exception as exc:
        raise _error(f"loading {schema_name}.{table} for dt={day}", url, exc) from _chain(exc, url)
    return LoadResult(rows=data.num_rows, seconds=time.perf_counter() - started)


def run_query(url: str, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one SQL statement and return its column names and rows (empty for no result set).

    The statement runs in its own transaction, committed when it succeeds.

    Args:
        url: The warehouse URL.
        query: One statement; several separated by `;` are refused.

    Returns:
        Column names and rows as Python values (Decimal, aware datetimes, dicts for jsonb).

    Raises:
        WarehouseError: The connection or the statement failed.
    """
    import psycopg

    try:
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            # Prepared, because only the extended protocol refuses a second statement.
            cur.execute(query, prepare=True)
            if cur.description is None:
                return [], []
            return [col.name for col in cur.description], cur.fetchall()
    except Exception as exc:
        raise _error("running the query", url, exc) from _chain(exc, url)


def table_rows(url: str, schema_name: str, table: str, day: dt.date | str | None = None) -> int:
    """Rows of a warehouse table, or of one of its days; 0 when the table does not exist.

    Raises:
        WarehouseError: The connection or the count failed.
    """
    import psycopg

    where = "" if day is None else f" for dt={_as_date(day)}"
    target = sql.Identifier(schema_name, table)
    query = sql.SQL("SELECT count(*) FROM {}").format(target)
    params: tuple[Any, ...] = ()
    if day is not None:
        query = sql.SQL("{} WHERE {} = %s").format(query, sql.Identifier(DT_COLUMN))
        params = (_as_date(day),)
    try:
        with psycopg.connect(url) as conn:
            regclass = target.as_string(conn)
            if conn.execute("SELECT to_regclass(%s)", (regclass,)).fetchone() == (None,):
                return 0
            row = conn.execute(query, params).fetchone()
            return int(row[0]) if row else 0
    except Exception as exc:
        raise _error(f"counting {schema_name}.{table}{where}", url, exc) from _chain(exc, url)


def warehouse_url(environ: Any = None, secrets: Any = None) -> str:
    """The warehouse URL: `ELT_WAREHOUSE_URL`, with the password from Secrets Manager when
    `ELT_WAREHOUSE_SECRET_ARN` names a secret (on AWS: the RDS-managed master secret, JSON with
    `username` and `password`), so no password sits in a variable, a file or a log line.

    Args:
        environ: Where to read the two variables (default: `os.environ`).
        secrets: A boto3 Secrets Manager client (default: one from the environment).

    Raises:
        WarehouseError: `ELT_WAREHOUSE_URL` is not set, or the secret has no password.
    """
    import os

    environ = os.environ if environ is None else environ
    url = environ.get("ELT_WAREHOUSE_URL")
    if not url:
        msg = "no warehouse: set ELT_WAREHOUSE_URL (`elt local up` and `elt dev` write it)"
        raise WarehouseError(msg)
    arn = environ.get("ELT_WAREHOUSE_SECRET_ARN")
    if not arn:
        return url
    if secrets is None:
        import boto3

        secrets = boto3.client("secretsmanager")
    secret = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    if not secret.get("password"):
        msg = f"the warehouse secret {arn} has no password"
        raise WarehouseError(msg)
    parts = urlsplit(url)
    user = quote(str(secret.get("username") or parts.username or ""), safe="")
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{quote(str(secret['password']), safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mask_url(url: str) -> str:
    """The URL with its password (in the userinfo or a `password=` parameter) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable warehouse URL>"
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{_MASK}@{hostinfo}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, _MASK if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _bulk_load(cur: Any, schema_name: str, table: str, data: pa.Table) -> None:
    """COPY `data` into the table inside the caller's transaction (ADBC binary COPY).

    Binary COPY cannot send text into a jsonb column, so a table with list/struct columns goes
    through a temporary text staging table and one INSERT ... SELECT with casts, still in bulk.
    """
    nested = [f.name for f in data.schema if _is_nested(f.type)]
    if not nested:
        cur.adbc_ingest(table, data, mode="append", db_schema_name=schema_name)
        return
    staged = _json_encoded(data, nested)
    columns = [
        sql.SQL("{} {}").format(
            sql.Identifier(f.name), sql.SQL("text" if f.name in nested else pg_type(f.type))
        )
        for f in staged.schema
    ]
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP")
        .format(sql.Identifier(_STAGING_TABLE), sql.SQL(", ").join(columns))
        .as_string()
    )
    cur.adbc_ingest(_STAGING_TABLE, staged, mode="append", temporary=True)
    names = [sql.Identifier(name) for name in staged.column_names]
    selected = [
        sql.SQL("{}::jsonb").format(ident) if name in nested else ident
        for name, ident in zip(staged.column_names, names, strict=True)
    ]
    cur.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}")
        .format(
            sql.Identifier(schema_name, table),
            sql.SQL(", ").join(names),
            sql.SQL(", ").join(selected),
            sql.Identifier(_STAGING_TABLE),
        )
        .as_string()
    )


def _ddl_statements(schema_name: str, table: str, arrow_schema: pa.Schema) -> list[str]:
    for name in (schema_name, table, *arrow_schema.names):
        if len(name.encode()) > _MAX_IDENTIFIER_BYTES:
            msg = f"name {name!r} is longer than PostgreSQL's {_MAX_IDENTIFIER_BYTES} bytes"
            raise ValueError(msg)
    if DT_COLUMN in arrow_schema.names:
        msg = f"column {DT_COLUMN!r} of {schema_name}.{table} clashes with the partition column"
        raise ValueError(msg)
    columns = [sql.SQL("{} date NOT NULL").format(sql.Identifier(DT_COLUMN))]
    for field in arrow_schema:
        try:
            column_type = pg_type(field.type)
        except ValueError as exc:
            msg = f"column {field.name!r} of {schema_name}.{table}: {exc}"
            raise ValueError(msg) from None
        null = "" if field.nullable else " NOT NULL"
        columns.append(
            sql.SQL("{} {}").format(sql.Identifier(field.name), sql.SQL(column_type + null))
        )
    target = sql.Identifier(schema_name, table)
    create = sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
        target, sql.SQL(", ").join(columns)
    )
    index = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
        sql.Identifier(_index_name(table)), target, sql.Identifier(DT_COLUMN)
    )
    return [create.as_string(), index.as_string()]


def _index_name(table: str) -> str:
    name = f"{table}_dt_idx"
    if len(name.encode()) <= _MAX_IDENTIFIER_BYTES:
        return name
    # PostgreSQL would truncate, and two long table names could then share one index name.
    digest = hashlib.sha1(table.encode()).hexdigest()[:8]
    prefix = table.encode()[:40].decode(errors="ignore")
    return f"{prefix}_{digest}_dt_idx"


def _compose(template: sql.SQL, *identifiers: str) -> str:
    return template.format(*(sql.Identifier(i) for i in identifiers)).as_string()


def _with_dt(arrow_table: pa.Table, day: dt.date) -> pa.Table:
    column = pa.repeat(pa.scalar(day, pa.date32()), arrow_table.num_rows)
    return arrow_table.add_column(0, pa.field(DT_COLUMN, pa.date32(), nullable=False), column)


def _json_encoded(data: pa.Table, nested: Iterable[str]) -> pa.Table:
    for name in nested:
        index = data.schema.get_field_index(name)
        try:
            values = [
                None
                if value is None
                else json.dumps(value, default=_json_default, allow_nan=False, ensure_ascii=False)
                for value in data.column(index).to_pylist()
            ]
        except ValueError as exc:
            msg = f"column {name!r} cannot be written as JSON: {exc}"
            raise ValueError(msg) from None
        data = data.set_column(index, pa.field(name, pa.string()), pa.array(values, pa.string()))
    return data


def _json_default(value: Any) -> Any:
    # JSON has no decimal, date or time: strings keep them exact and readable in SQL.
    if isinstance(value, Decimal | dt.date | dt.datetime | dt.time):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    msg = f"{type(value).__name__} value {value!r} is not JSON serialisable"
    raise TypeError(msg)


def _as_date(day: dt.date | str) -> dt.date:
    if isinstance(day, dt.datetime):
        msg = f"day must be a date, not a datetime: {day!r}"
        raise ValueError(msg)
    if isinstance(day, dt.date):
        return day
    try:
        return dt.date.fromisoformat(day)
    except (TypeError, ValueError):
        msg = f"day must be a date or YYYY-MM-DD, not {day!r}"
        raise ValueError(msg) from None


def _secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k == "password" and v]
    return [s for secret in found for s in {secret, unquote(secret)} if s]


def _redact(text: str, url: str) -> str:
    for secret in _secrets(url):
        text = text.replace(secret, _MASK)
    return re.sub(r"(password\s*=\s*)\S+", rf"\1{_MASK}", text, flags=re.IGNORECASE)


def _error(doing: str, url: str, exc: Exception) -> WarehouseError:
    detail = _redact(str(exc).strip() or type(exc).__name__, url)
    return WarehouseError(f"{doing} in {mask_url(url)} failed: {detail}")


def _chain(exc: Exception, url: str) -> Exception | None:
    """The cause to chain, or None when its own text would show the password in a traceback."""
    secrets = _secrets(url)
    return None if any(s in str(exc) for s in secrets) else exc
