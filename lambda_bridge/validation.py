"""Where a msgspec validation error is, in the words our error messages use."""

import re

import msgspec

_AT = re.compile(r"^(?P<problem>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
# msgspec names a missing or unknown field in the text and points `at` the object holding it.
_NAMED = re.compile(r"^Object (?:contains unknown|missing required) field `(?P<name>[^`]*)`")


def locate(exc: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's `<problem> - at `$.columns[1].type`` into the field and the problem.

    Args:
        exc: The error `msgspec.convert` or a typed decoder raised.

    Returns:
        The field as `columns[1].type` (an unknown or missing field included, as
        `columns[0].requird`), or "" when the document itself is wrong; and the problem text.
    """
    text = str(exc)
    found = _AT.match(text)
    where, problem = (found["path"].lstrip("."), found["problem"]) if found else ("", text)
    named = _NAMED.match(problem)
    if named:
        where = f"{where}.{named['name']}" if where else named["name"]
    return where, problem
