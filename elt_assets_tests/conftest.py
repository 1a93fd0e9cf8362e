import itertools

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
