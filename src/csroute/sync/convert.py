"""Converting file values to the types Custify expects (docs/custify-api.md, "Attribute types and
limits").

CSV cells are strings, so a typed field (an int, a boolean, a date) must be converted before
sending: Custify fixes an attribute's type from the first value it sees, and a date sent as
``"05/30/2024"`` would lock the attribute as a string. Unconvertible values raise
``ConversionError``, which the run reports for that row and field.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, Literal

Kind = Literal["str", "int", "number", "bool", "date", "auto", "raw"]
INT32 = (-(2**31), 2**31 - 1)
_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}"  # YYYY-MM-DD
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"  # [ HH:mm[:ss[.SSS...]]]
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_BOOLEANS = {"true": True, "false": False}


class ConversionError(ValueError):
    """A value cannot become the type its field needs."""


def convert(value: Any, kind: Kind) -> Any:
    """``value`` as ``kind``; empty strings and None become None (left out of the payload).

    ``auto`` is for custom attributes and event metadata: strings that Custify would read as a
    date, number or boolean (in its detection order) are sent as such, so the type a CSV load
    locks is the one a JSON load would have locked.
    """
    if kind == "raw" or isinstance(value, dict | list):
        return value  # sent as read; Custify (or the client) judges nested values
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "str":
        return value if isinstance(value, str) else str(value)
    if kind == "auto":
        return _auto(value)
    if kind == "date":
        return to_date(value)
    if kind == "bool":
        return to_bool(value)
    number = to_number(value)
    if kind == "int":
        if number != int(number):
            raise ConversionError(f"{value!r} is not a whole number")
        number = int(number)
        if not INT32[0] <= number <= INT32[1]:
            raise ConversionError(f"{value!r} is outside Custify's 32-bit integer range")
    return number


def _auto(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _DATE.match(text):
        return to_date(text)
    if _NUMBER.match(text):
        return to_number(text)
    return _BOOLEANS.get(text.lower(), value)


def to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ConversionError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    if not _NUMBER.match(text):
        raise ConversionError(f"{value!r} is not a number")
    number = float(text)
    return int(number) if number.is_integer() and not re.search(r"[.eE]", text) else number


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    found = _BOOLEANS.get(str(value).strip().lower())
    if found is None:
        raise ConversionError(f"{value!r} is not a boolean (true or false)")
    return found


def to_date(value: Any) -> str:
    """ISO-8601 in UTC with milliseconds and ``Z``, the form of Custify's examples. Accepts the
    formats Custify recognises, ``datetime`` values (Parquet) and epoch seconds."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        text = str(value).strip()
        if not _DATE.match(text):
            raise ConversionError(
                f"{value!r} is not a date Custify accepts (YYYY-MM-DD, optionally with a time "
                "and time zone)"
            )
        try:
            moment = datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            raise ConversionError(f"{value!r} is not a valid date") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
