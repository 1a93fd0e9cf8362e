"""Vectorised casts of text columns to the contract's types, with a mask of the rows that fail."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lambda_bridge.contracts import EPOCH_UNITS


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


_CAST_PATTERNS = {
    "int": r"^[+-]?\d+$",
    "float": r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$",
    "bool": r"^(?i:true|false|1|0)$",
    # Field ranges in the screen keep impossible values (month 13, hour 99) from reaching the
    # bisecting cast; only the rare calendar error (February 30) gets that far.
    "date": r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
    "timestamp": (
        r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3])"
        r"(:[0-5]\d(:([0-5]\d|60)(\.\d{1,9})?)?)?(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?$"
    ),
    "decimal": r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$",
}
_OFFSET = r"(Z|[+-]\d{2}(:?\d{2})?)$"


def _pattern_for(target: pa.DataType) -> str | None:
    if pa.types.is_integer(target):
        return _CAST_PATTERNS["int"]
    if pa.types.is_floating(target):
        return _CAST_PATTERNS["float"]
    if pa.types.is_boolean(target):
        return _CAST_PATTERNS["bool"]
    if pa.types.is_date(target):
        return _CAST_PATTERNS["date"]
    if pa.types.is_timestamp(target):
        return _CAST_PATTERNS["timestamp"]
    if pa.types.is_decimal(target):
        return _CAST_PATTERNS["decimal"]
    return None


def cast_strings(
    values: pa.Array | pa.ChunkedArray, target: pa.DataType, naive_as_utc: bool = True
) -> tuple[pa.Array | pa.ChunkedArray, np.ndarray]:
    """Cast a string column to `target`, returning the cast values and a mask of rows that failed.

    Rows that fail become null in the result. Syntax is screened with a vectorised regex; the
    rare value that passes the screen but still fails (month 13, an int64 overflow) is found by
    bisecting the cast, so one bad value never costs a per-row Python loop over the column.
    """
    n = len(values)
    if pa.types.is_string(target):
        return values, np.zeros(n, dtype=bool)
    if not pa.types.is_boolean(target):
        # The common case, every value well formed, costs one cast; screening only on failure.
        try:
            return pc.cast(values, target), np.zeros(n, dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    failed = np.zeros(n, dtype=bool)
    present = _mask(pc.is_valid(values))
    pattern = _pattern_for(target)
    if pattern is not None:
        matches = _mask(pc.match_substring_regex(values, pattern))
        failed |= present & ~matches
        if failed.any():
            values = pc.if_else(pa.array(failed), pa.scalar(None, pa.string()), values)
    if pa.types.is_boolean(target):
        values = pc.utf8_lower(values)
    if pa.types.is_timestamp(target) and target.tz is not None:
        # Once the screen has nulled the malformed values, one cast usually succeeds: a string
        # without an offset fails a cast to a zoned type, so success means there were none, and
        # the second regex below (naive or not) is needed only when the cast fails.
        try:
            return _null_where(pc.cast(values, target), failed), failed
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        has_offset = _mask(pc.match_substring_regex(values, _OFFSET))
        naive = present & ~failed & ~has_offset
        if naive.any():
            if not naive_as_utc:
                failed |= naive
            else:
                # A timestamp without an offset is read as UTC (the contract's naive_timestamps).
                naive_cast, naive_failed = _bisect_cast(
                    pc.if_else(pa.array(naive), values, pa.scalar(None, pa.string())),
                    pa.timestamp(target.unit),
                )
                failed |= naive_failed
                aware_in = pc.if_else(pa.array(naive), pa.scalar(None, pa.string()), values)
                aware, aware_failed = _bisect_cast(aware_in, target)
                failed |= aware_failed
                merged = pc.if_else(pa.array(naive), naive_cast.cast(target), aware)
                return _null_where(merged, failed), failed
    cast, cast_failed = _bisect_cast(values, target)
    failed |= cast_failed
    return _null_where(cast, failed), failed


def epoch_to_timestamp(
    values: pa.Array, unit: str, target: pa.DataType
) -> tuple[pa.Array, np.ndarray]:
    """Epoch numbers (seconds, milliseconds or microseconds; text from CSV) to UTC timestamps.

    Returns the timestamps and a mask of rows that are not numbers or fall outside what a
    microsecond timestamp can hold; those rows are null in the result.
    """
    failed = np.zeros(len(values), dtype=bool)
    if not pa.types.is_floating(values.type):
        values, failed = cast_strings(values, pa.float64())
    micros = pc.multiply(values.cast(pa.float64()), float(EPOCH_UNITS[unit]))
    # Inside +-2^62 microseconds (+-146k years) the rounded value always fits an int64.
    fits = _mask(pc.less_equal(pc.abs(micros), float(2**62)))
    failed |= _mask(pc.is_valid(values)) & ~fits
    micros = _null_where(micros, failed)
    as_int = pc.round(micros).cast(pa.int64())
    return as_int.cast(pa.timestamp("us")).cast(target), failed


def _null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def _bisect_cast(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    failed = np.zeros(len(values), dtype=bool)
    pieces: list[pa.Array] = []

    def attempt(lo: int, hi: int) -> None:
        part = values.slice(lo, hi - lo)
        try:
            pieces.append(pc.cast(part, target))
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            if hi - lo == 1:
                failed[lo] = True
                pieces.append(pa.nulls(1, target))
                return
        mid = (lo + hi) // 2
        attempt(lo, mid)
        attempt(mid, hi)

    if len(values):
        attempt(0, len(values))
    else:
        pieces.append(pa.array([], target))
    return pa.concat_arrays(pieces), failed
