"""Parse one bronze object against its contract: bytes in, typed rows and quarantined lines out.

The fast path reads the whole object in one vectorised pyarrow call with the contract's schema.
Only when that fails (a bad line somewhere) does a typed per-line decoder (msgspec) classify the
lines, so the bad ones are isolated and the good ones go back through the same vectorised read.
Every path ends in the same post-checks, so whether a line is accepted never depends on the
other lines of its file.

`object` takes the object in (limits, gzip, format); `jsonl` is the fast path, `isolating` the
per-line one, `csv` the CSV reader; `lines` holds what the JSON paths share, `finish` the
post-checks and `cast` the vectorised casts they use; `result` is what comes out. `block` parses
one block of a streamed object with the same code.
"""

from lambda_bridge.parse.block import Block, parse_block
from lambda_bridge.parse.cast import cast_strings, epoch_to_timestamp
from lambda_bridge.parse.finish import extra_fields_json
from lambda_bridge.parse.object import GUNZIP_PIECE_BYTES, gunzip_pieces, parse_object
from lambda_bridge.parse.result import (
    BOM,
    GZIP_MAGIC,
    JSON_WHITESPACE,
    RAW_LIMIT,
    BadLine,
    ErrorCode,
    ParseResult,
    out_of_time,
    record_too_large,
    too_large,
    unreadable_gzip,
)

__all__ = [
    "BOM",
    "GUNZIP_PIECE_BYTES",
    "GZIP_MAGIC",
    "JSON_WHITESPACE",
    "RAW_LIMIT",
    "BadLine",
    "Block",
    "ErrorCode",
    "ParseResult",
    "cast_strings",
    "epoch_to_timestamp",
    "extra_fields_json",
    "gunzip_pieces",
    "out_of_time",
    "parse_block",
    "parse_object",
    "record_too_large",
    "too_large",
    "unreadable_gzip",
]
