"""Parse one bronze object against its contract: bytes in, typed rows and quarantined lines out.

The fast path reads the whole object in one vectorised pyarrow call with the contract's schema.
Only when that fails (a bad line somewhere) does a typed per-line decoder (msgspec) classify the
lines, so the bad ones are isolated and the good ones go back through the same vectorised read.
Every path ends in the same post-checks, so whether a line is accepted never depends on the
other lines of its file.

`object` takes the object in (limits, gzip, format); `jsonl` is the fast path, `isolating` the
per-line one, `csv` the CSV reader; `lines` holds what the JSON paths share, `finish` the
post-checks and `cast` the vectorised casts they use; `result` is what comes out.
"""

from lambda_bridge.parse.cast import cast_strings, epoch_to_timestamp
from lambda_bridge.parse.finish import extra_fields_json
from lambda_bridge.parse.object import parse_object
from lambda_bridge.parse.result import (
    BOM,
    GZIP_MAGIC,
    JSON_WHITESPACE,
    RAW_LIMIT,
    BadLine,
    ErrorCode,
    ParseResult,
    too_large,
)

__all__ = [
    "BOM",
    "GZIP_MAGIC",
    "JSON_WHITESPACE",
    "RAW_LIMIT",
    "BadLine",
    "ErrorCode",
    "ParseResult",
    "cast_strings",
    "epoch_to_timestamp",
    "extra_fields_json",
    "parse_object",
    "too_large",
]
