"""Arrow types as PostgreSQL column types (DESIGN §10), apart from the warehouse's client so
that Dagster can show a table's columns without importing a database driver at load."""

import pyarrow as pa


def pg_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL column type of an Arrow type, as DESIGN §10 fixes it.

    Args:
        arrow_type: A contract or gold-model column type.

    Returns:
        The type as written in DDL, e.g. `numeric(12,2)`.

    Raises:
        ValueError: The type has no warehouse mapping (naive timestamps included: their instant
            is unknown).
    """
    t = arrow_type
    # Polars hands over large and view variants of the same logical types.
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text"
    if pa.types.is_int64(t):
        return "bigint"
    if pa.types.is_int32(t):
        return "integer"
    if pa.types.is_float64(t):
        return "double precision"
    if pa.types.is_float32(t):
        return "real"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t) and t.tz is not None:
        return "timestamptz"
    if pa.types.is_date32(t):
        return "date"
    if pa.types.is_decimal128(t) or pa.types.is_decimal256(t):
        return f"numeric({t.precision},{t.scale})"
    if is_nested(t):
        return "jsonb"
    msg = f"Arrow type {t} has no warehouse column type"
    if pa.types.is_timestamp(t):
        msg += " (a timestamp without a time zone: make it UTC)"
    raise ValueError(msg)


def is_nested(t: pa.DataType) -> bool:
    return (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
        or pa.types.is_struct(t)
    )
