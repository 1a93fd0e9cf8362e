"""The PostgreSQL warehouse against a real server (initdb/pg_ctl of the installed PostgreSQL)."""

import datetime as dt
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from elt_assets.cli.local import postgres as local_pg
from elt_assets.cli.local.postgres import LocalPostgres, LocalPostgresError, find_pg_bin
from elt_assets.lib import warehouse
from elt_assets.lib.warehouse import (
    WarehouseError,
    create_table_sql,
    load_partition,
    pg_type,
    run_query,
    table_rows,
)

pytestmark = pytest.mark.e2e

DAY = dt.date(2024, 3, 2)
DAY_BEFORE = dt.date(2024, 3, 1)
PASSWORD = "s3cr3t-Pw0rd"
_tables = (f"t{i}" for i in itertools.count())


@pytest.fixture(scope="module")
def pg_root():
    """A directory the server's user can reach, for the tests that start servers of their own
    (as root the server runs as `postgres`, which cannot enter pytest's 0700 tmp_path)."""
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="elt-pg-test-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def server(pg_server):
    return pg_server


@pytest.fixture
def url(warehouse_url):
    return warehouse_url


@pytest.fixture
def table():
    return next(_tables)


def _read(url, schema_name, table, day=None, order_by="id"):
    query = sql.SQL("SELECT * FROM {} {} ORDER BY {}").format(
        sql.Identifier(schema_name, table),
        sql.SQL("WHERE dt = %s") if day else sql.SQL(""),
        sql.Identifier(order_by),
    )
    with psycopg.connect(url) as conn:
        return conn.execute(query, (day,) if day else ()).fetchall()


def _count(conn, schema_name, table, day):
    query = sql.SQL("SELECT count(*) FROM {} WHERE dt = %s").format(
        sql.Identifier(schema_name, table)
    )
    return conn.execute(query, (day,)).fetchone()[0]


def _simple(n, start=0, label="v"):
    return pa.table(
        {
            "id": pa.array(range(start, start + n), pa.int64()),
            "label": pa.array([f"{label}{i}" for i in range(start, start + n)]),
        }
    )


# --- types -------------------------------------------------------------------------------------

STRUCT = pa.struct([("a", pa.int64()), ("b", pa.list_(pa.float64()))])

MAPPING = [
    (pa.string(), "text"),
    (pa.large_string(), "text"),
    (pa.int64(), "bigint"),
    (pa.int32(), "integer"),
    (pa.float64(), "double precision"),
    (pa.float32(), "real"),
    (pa.bool_(), "boolean"),
    (pa.timestamp("us", tz="UTC"), "timestamptz"),
    (pa.date32(), "date"),
    (pa.decimal128(12, 2), "numeric(12,2)"),
    (pa.list_(pa.string()), "jsonb"),
    (STRUCT, "jsonb"),
    (pa.list_(pa.struct([("x", pa.list_(pa.int32()))])), "jsonb"),
]


@pytest.mark.parametrize(("arrow_type", "expected"), MAPPING, ids=[str(t) for t, _ in MAPPING])
def test_pg_type_follows_the_design_mapping(arrow_type, expected):
    assert pg_type(arrow_type) == expected


@pytest.mark.parametrize("arrow_type", [pa.int16(), pa.timestamp("us"), pa.null(), pa.binary()])
def test_pg_type_refuses_unknown_types_by_name(arrow_type):
    with pytest.raises(ValueError, match=str(arrow_type).replace("[", r"\[")):
        pg_type(arrow_type)


def test_type_round_trip_for_every_contract_type(url, table):
    karachi = dt.timezone(dt.timedelta(hours=5))
    instant = dt.datetime(2024, 3, 2, 23, 30, 0, 123456, tzinfo=karachi)  # 18:30 UTC
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            ("s", pa.string()),
            ("i64", pa.int64()),
            ("i32", pa.int32()),
            ("f64", pa.float64()),
            ("f32", pa.float32()),
            ("b", pa.bool_()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("d", pa.date32()),
            ("amount", pa.decimal128(12, 2)),
            ("tags", pa.list_(pa.string())),
            ("info", STRUCT),
        ]
    )
    rows = [
        {
            "id": 1,
            "s": 'héllo, "world"\n\t\'',
            "i64": 2**62,
            "i32": -(2**31),
            "f64": 0.1,
            "f32": 1.5,
            "b": True,
            "ts": dt.datetime(2024, 3, 2, 0, 0, 0, 1, tzinfo=dt.UTC),
            "d": dt.date(1999, 12, 31),
            "amount": Decimal("12345678.90"),
            "tags": ["a", "b,c", ""],
            "info": {"a": 7, "b": [1.25, -2.5]},
        },
        {
            "id": 2,
            "s": "",
            "i64": -1,
            "i32": 0,
            "f64": -0.0,
            "f32": -3.0,
            "b": False,
            "ts": instant,
            "d": dt.date(2024, 2, 29),
            "amount": Decimal("-0.01"),
            "tags": [],
            "info": {"a": None, "b": []},
        },
        {"id": 3, **{f.name: None for f in schema if f.name != "id"}},
    ]
    data = pa.Table.from_pylist(rows, schema=schema)

    result = load_partition(url, "silver", table, DAY, data)

    assert result.rows == 3
    assert result.seconds > 0
    back = _read(url, "silver", table)
    expected = [(DAY, *row.values()) for row in rows]
    assert back == expected
    # The non-UTC input is stored as its instant, and reads as that instant in UTC.
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        ts = conn.execute(
            sql.SQL("SELECT ts FROM {} WHERE id = 2").format(sql.Identifier("silver", table))
        ).fetchone()[0]
    assert ts == dt.datetime(2024, 3, 2, 18, 30, 0, 123456, tzinfo=dt.UTC)
    assert ts.utcoffset() == dt.timedelta(0)

    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale "
            "FROM information_schema.columns WHERE table_schema = 'silver' AND table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    assert columns == [
        ("dt", "date", "NO", None, None),
        ("id", "bigint", "NO", 64, 0),
        ("s", "text", "YES", None, None),
        ("i64", "bigint", "YES", 64, 0),
        ("i32", "integer", "YES", 32, 0),
        ("f64", "double precision", "YES", 53, None),
        ("f32", "real", "YES", 24, None),
        ("b", "boolean", "YES", None, None),
        ("ts", "timestamp with time zone", "YES", None, None),
        ("d", "date", "YES", None, None),
        ("amount", "numeric", "YES", 12, 2),
        ("tags", "jsonb", "YES", None, None),
        ("info", "jsonb", "YES", None, None),
    ]


def test_create_table_sql_quotes_names_and_indexes_dt():
    schema = pa.schema([pa.field("Order Id", pa.int64(), nullable=False), ('na"me', pa.string())])

    ddl = create_table_sql("gold", 'weird "table"', schema)

    assert ddl.startswith('CREATE TABLE IF NOT EXISTS "gold"."weird ""table""" ("dt" date NOT NULL')
    assert '"Order Id" bigint NOT NULL, "na""me" text)' in ddl
    assert 'CREATE INDEX IF NOT EXISTS "weird ""table""_dt_idx"' in ddl
    with pytest.raises(ValueError, match="'dt'"):
        create_table_sql("gold", "t", pa.schema([("dt", pa.date32())]))
    with pytest.raises(ValueError, match=r"'when'.*timestamp"):
        create_table_sql("gold", "t", pa.schema([("when", pa.timestamp("us"))]))


# --- atomic and idempotent ---------------------------------------------------------------------


def test_loading_twice_leaves_the_same_rows_and_other_days_alone(url, table):
    load_partition(url, "silver", table, DAY_BEFORE, _simple(3, label="old"))
    load_partition(url, "silver", table, DAY, _simple(5))
    first = _read(url, "silver", table, DAY)

    load_partition(url, "silver", table, DAY.isoformat(), _simple(5))

    assert _read(url, "silver", table, DAY) == first
    assert table_rows(url, "silver", table, DAY) == 5
    assert _read(url, "silver", table, DAY_BEFORE) == [(DAY_BEFORE, i, f"old{i}") for i in range(3)]
    # A smaller reload replaces the day, it does not merge into it.
    load_partition(url, "silver", table, DAY, _simple(2, start=100))
    assert _read(url, "silver", table, DAY) == [(DAY, 100, "v100"), (DAY, 101, "v101")]
    assert table_rows(url, "silver", table) == 5


def test_a_failure_after_the_delete_rolls_back_the_whole_day(url, table, monkeypatch):
    load_partition(url, "silver", table, DAY, _simple(4))
    before = _read(url, "silver", table, DAY)
    seen_inside = []

    def failing_load(cur, schema_name, table_name, data):
        query = sql.SQL("SELECT count(*) FROM {} WHERE dt = {}").format(
            sql.Identifier(schema_name, table_name), sql.Literal(DAY)
        )
        cur.execute(query.as_string())
        seen_inside.append(cur.fetchone()[0])
        raise RuntimeError("disk full")

    monkeypatch.setattr(warehouse, "_bulk_load", failing_load)

    with pytest.raises(WarehouseError, match=rf"silver\.{table} for dt=2024-03-02.*disk full"):
        load_partition(url, "silver", table, DAY, _simple(9, label="new"))

    assert seen_inside == [0]  # the DELETE had run in the transaction
    assert _read(url, "silver", table, DAY) == before


def test_a_rejected_copy_rolls_back_and_names_the_table(url, table):
    strict = pa.schema([pa.field("id", pa.int64(), nullable=False), ("label", pa.string())])
    load_partition(url, "silver", table, DAY, pa.Table.from_pylist([{"id": 1}], schema=strict))

    with_null_id = pa.table({"id": pa.array([2, None], pa.int64()), "label": ["x", "y"]})
    with pytest.raises(WarehouseError, match=rf"silver\.{table} for dt=2024-03-02"):
        load_partition(url, "silver", table, DAY, with_null_id)

    assert _read(url, "silver", table, DAY) == [(DAY, 1, None)]


def test_a_concurrent_reader_sees_the_old_day_or_the_new_never_half(url, table, monkeypatch):
    old, new = 1_000, 200_000
    load_partition(url, "silver", table, DAY, _simple(old))
    deleted, release = threading.Event(), threading.Event()
    real_bulk_load = warehouse._bulk_load

    def paused_load(*args):
        deleted.set()
        release.wait(timeout=30)
        real_bulk_load(*args)

    monkeypatch.setattr(warehouse, "_bulk_load", paused_load)
    seen, stop = [], threading.Event()

    def poll():
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                seen.append(_count(conn, "silver", table, DAY))

    failures = []

    def load():
        try:
            load_partition(url, "silver", table, DAY, _simple(new))
        except Exception as exc:
            failures.append(exc)

    loader = threading.Thread(target=load)
    poller = threading.Thread(target=poll)
    poller.start()
    loader.start()
    assert deleted.wait(timeout=30)
    seen_before_release = len(seen)
    time.sleep(0.3)  # the reader polls while the day is deleted but not yet reloaded
    with psycopg.connect(url, autocommit=True) as conn:
        assert _count(conn, "silver", table, DAY) == old
    release.set()
    loader.join(timeout=60)
    deadline = time.monotonic() + 10
    while (not seen or seen[-1] != new) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    poller.join(timeout=10)

    assert failures == []
    assert len(seen) > seen_before_release
    assert set(seen) == {old, new}, sorted(set(seen))
    assert table_rows(url, "silver", table, DAY) == new


# --- names, secrets, queries -------------------------------------------------------------------


def test_names_that_need_quotes_work(url):
    schema_name, table = "Gold Team", 'Order "Lines"; DROP TABLE x; --'
    data = pa.table({"id": [1, 2], "Unit Price": [1.5, 2.5], "select": ["a", "b"]})

    load_partition(url, schema_name, table, DAY, data)

    assert _read(url, schema_name, table) == [(DAY, 1, 1.5, "a"), (DAY, 2, 2.5, "b")]
    assert table_rows(url, schema_name, table, DAY) == 2


def test_a_password_in_the_url_never_reaches_an_error_message(server, table):
    secret_url = f"postgresql://elt:{PASSWORD}@127.0.0.1:{server.port}/elt"
    load_partition(secret_url, "silver", table, DAY, _simple(1))  # trust auth ignores it
    clash = pa.table({"id": pa.array(["not a number"]), "label": ["x"]})

    errors = []
    for call in (
        lambda: load_partition(secret_url, "silver", table, DAY, clash),
        lambda: run_query(secret_url, f"SELECT '{PASSWORD}'::int"),
        lambda: run_query(
            f"postgresql://elt:{PASSWORD}@127.0.0.1:{local_pg.free_port()}/elt", "SELECT 1"
        ),
        lambda: run_query(
            f"postgresql://127.0.0.1:{server.port}/elt?user=elt&password={PASSWORD}&sslmode=bad",
            "SELECT 1",
        ),
    ):
        with pytest.raises(WarehouseError) as info:
            call()
        errors.append(info.value)

    for error in errors:
        chain, cause = [], error
        while cause is not None:
            chain.append(f"{cause}\n{cause!r}")
            cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
        assert PASSWORD not in "\n".join(chain)
        assert "***" in str(error)
    assert f"silver.{table} for dt=2024-03-02" in str(errors[0])
    assert table_rows(secret_url, "silver", table, DAY) == 1


def test_mask_url_hides_both_password_spellings():
    assert warehouse.mask_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert "s3" not in warehouse.mask_url("postgresql://h/db?password=s3&user=u")
    assert warehouse.mask_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_run_query_returns_columns_and_rows(url, table):
    load_partition(url, "gold", table, DAY, _simple(3))

    columns, rows = run_query(
        url, f'SELECT id, label, dt FROM gold."{table}" WHERE id > 0 ORDER BY id'
    )

    assert columns == ["id", "label", "dt"]
    assert rows == [(1, "v1", DAY), (2, "v2", DAY)]
    assert run_query(url, "SELECT 1 WHERE false") == (["?column?"], [])
    with pytest.raises(WarehouseError, match="multiple commands"):
        run_query(url, "SELECT 1; SELECT 2")


def test_table_rows_of_a_missing_table_is_zero(url):
    assert table_rows(url, "silver", "never_loaded") == 0
    assert table_rows(url, "no_such_schema", "t", "2024-01-01") == 0


def test_the_library_does_not_import_dagster():
    code = (
        "import sys, elt_assets.lib.warehouse, elt_assets.cli.local.postgres; "
        "sys.exit('dagster' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- the local server --------------------------------------------------------------------------


def test_local_postgres_keeps_data_across_stop_and_start(pg_root):
    data_dir = pg_root / "restart" / "pg"
    with LocalPostgres.start(data_dir) as first:
        assert first.url == f"postgresql://elt@127.0.0.1:{first.port}/elt"
        load_partition(first.url, "silver", "kept", DAY, _simple(3))
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(first.url, connect_timeout=2).close()

    with LocalPostgres.start(data_dir, port=local_pg.free_port()) as second:
        assert table_rows(second.url, "silver", "kept", DAY) == 3
        assert (data_dir / "PG_VERSION").exists()


def test_find_pg_bin_prefers_elt_pg_bin(monkeypatch, tmp_path):
    monkeypatch.setenv("ELT_PG_BIN", str(tmp_path))
    assert find_pg_bin() == tmp_path
    monkeypatch.delenv("ELT_PG_BIN")
    found = find_pg_bin()
    assert found is not None and (found / "initdb").exists() and (found / "pg_ctl").exists()


def test_missing_postgresql_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("ELT_PG_BIN", str(tmp_path / "nothing"))

    with pytest.raises(LocalPostgresError, match=r"apt-get install postgresql"):
        LocalPostgres.start(tmp_path / "pg")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another user")
def test_an_unreachable_data_dir_is_named(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)

    with pytest.raises(LocalPostgresError, match=r"cannot enter .*closed"):
        LocalPostgres.start(closed / "pg")


def test_the_password_comes_from_the_secret_the_deployment_names(server, table):
    """On AWS the URL carries no password: `ELT_WAREHOUSE_SECRET_ARN` names the RDS-managed
    secret, whose password (any characters) is put into the URL when a load asks for it."""
    import boto3
    from moto import mock_aws

    from elt_assets.lib.warehouse import warehouse_url

    password = "p@ss/w:rd?#%"
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        arn = secrets.create_secret(
            Name="rds!db-1", SecretString=f'{{"username": "elt", "password": "{password}"}}'
        )["ARN"]
        empty = secrets.create_secret(Name="rds!db-2", SecretString='{"username": "elt"}')["ARN"]
        base = f"postgresql://127.0.0.1:{server.port}/elt?sslmode=disable"
        composed = warehouse_url(
            {"ELT_WAREHOUSE_URL": base, "ELT_WAREHOUSE_SECRET_ARN": arn}, secrets
        )
        with pytest.raises(WarehouseError, match="has no password"):
            warehouse_url({"ELT_WAREHOUSE_URL": base, "ELT_WAREHOUSE_SECRET_ARN": empty}, secrets)

    parsed = psycopg.conninfo.conninfo_to_dict(composed)
    assert (parsed["user"], parsed["password"], parsed["sslmode"]) == ("elt", password, "disable")
    assert password not in warehouse.mask_url(composed)
    load_partition(composed, "silver", table, DAY, _simple(2))
    assert table_rows(composed, "silver", table, DAY) == 2
    with pytest.raises(WarehouseError, match="ELT_WAREHOUSE_URL"):
        warehouse_url({})
