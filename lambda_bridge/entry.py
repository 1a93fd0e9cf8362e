"""What the two Lambda entry points share: Powertools around an app's `handle`, built lazily."""

import functools
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class App(Protocol):
    def handle(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]: ...


def wrap(app: App, logger: Logger, metrics: Metrics) -> Handler:
    """`app.handle` with the Lambda context in the logs and the metrics flushed per invocation."""

    @logger.inject_lambda_context
    @metrics.log_metrics
    def entry(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.handle(event, context)

    return entry


def lazy(build: Callable[[], Handler]) -> Handler:
    """A handler whose clients are made on the first invocation, not at import (tests import
    the module without any AWS settings)."""
    built = functools.cache(build)

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return built()(event, context)

    return handler
