import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from elt_assets.cli.local.runner import LambdaRunner
from elt_assets.cli.local.stack import ResourceNames, start_stack

_names = (f"e2e{i}" for i in itertools.count())


@pytest.fixture(scope="session", autouse=True)
def _quiet_lambdas():
    mp = pytest.MonkeyPatch()
    mp.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    mp.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def registry():
    from lambda_bridge.contracts import ContractRegistry

    return ContractRegistry.load()


@pytest.fixture(scope="session")
def server_stack():
    """One real moto server over HTTP for the session; tests get their own resources on it."""
    stack = start_stack(names=ResourceNames(next(_names)))
    yield stack
    stack.stop()


@pytest.fixture
def stack(server_stack):
    """Fresh buckets, queues and table (own name prefix) on the shared server."""
    from elt_assets.cli.local.stack import provision

    fresh = provision(server_stack.endpoint, ResourceNames(next(_names)))
    fresh.server = None  # the session fixture owns the server
    return fresh


@pytest.fixture
def runner(stack):
    r = LambdaRunner(stack, visibility_timeout=1, ingest_retry_delay=1)
    yield r
    r.stop()


_databases = (f"elt_test_{i}" for i in itertools.count())


@pytest.fixture(scope="session")
def pg_server():
    """One real PostgreSQL server for the session (the installed initdb/pg_ctl), in a temp dir
    the server's own user can reach (as root it runs as `postgres`, which cannot enter the
    0700 /tmp/pytest-of-root)."""
    from elt_assets.cli.local.postgres import LocalPostgres, find_pg_bin

    if find_pg_bin() is None:
        message = "PostgreSQL is not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="elt-pg-test-"))
    root.chmod(0o711)
    try:
        with LocalPostgres.start(root / "cluster") as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def warehouse_url(pg_server):
    """A fresh, empty database on the session's server: tests never see each other's tables."""
    import psycopg

    name = next(_databases)
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_server.url.rsplit("/", 1)[0] + f"/{name}"
