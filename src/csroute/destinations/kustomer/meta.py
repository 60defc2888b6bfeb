"""Kustomer's ``meta`` rules: flat, camelCase keys whose suffix says what the value is.

Kustomer types a meta value by its key: numbers under keys ending in ``Num``, date-times under
keys ending in ``At``, and strings under any other key (a string under ``Num`` is an error).
Event properties are turned into such pairs here; nested objects are flattened into joined
camelCase keys (``shipping.city`` becomes ``shippingCity``), lists of plain values are joined
into one string, and everything that cannot become one value (lists of objects, nulls) is
left out, as docs/destinations/kustomer.md explains.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_WORD_SEPARATORS = re.compile(r"[\W_]+")
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_NUMBER_TEXT = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")

Scalar = str | int | float | bool


def camel_case(parts: list[str]) -> str:
    """``["order_id"]`` -> ``orderId``; ``["Order ID"]`` -> ``orderId``; ``["URL"]`` -> ``url``.

    Words already in camelCase (``orderID``) are kept as written.
    """
    words = [w for part in parts for w in _WORD_SEPARATORS.split(part) if w]
    if not words:
        return ""
    first = words[0].lower() if words[0].isupper() else words[0][0].lower() + words[0][1:]
    return first + "".join(
        w.capitalize() if w.isupper() else w[0].upper() + w[1:] for w in words[1:]
    )


def is_date_time(value: str) -> bool:
    """An ISO-8601 date and time (a bare date is an ordinary string)."""
    return _DATE_TIME.fullmatch(value) is not None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def flatten(value: Any, path: list[str]) -> Iterator[tuple[str, str, Scalar]]:
    """(source path, camelCase key, value) for every single value inside ``value``."""
    if isinstance(value, dict):
        for name, inner in value.items():
            yield from flatten(inner, [*path, str(name)])
    elif isinstance(value, list):
        if value and all(isinstance(v, Scalar) for v in value):
            yield ".".join(path), camel_case(path), ", ".join(_text(v) for v in value)
    elif isinstance(value, Scalar):
        yield ".".join(path), camel_case(path), value


def suffixed(key: str, value: Scalar) -> tuple[str, Scalar]:
    """The key and value as Kustomer accepts them, adding the suffix the value's kind needs.

    A suffix already present is not doubled; a plain string under a key that ends in ``Num``
    or ``At`` gets ``Str`` appended, since Kustomer would read it as a number or a date.
    """
    if is_number(value):
        return (key if key.endswith("Num") else key + "Num"), value
    text = _text(value)
    if is_date_time(text):
        return (key if key.endswith("At") else key + "At"), text
    return (key + "Str" if key.endswith(("Num", "At")) else key), text


def coerced(key: str, value: Any) -> Scalar:
    """A mapped value made to fit the kind its key declares; ``ValueError`` says why it can't.

    The key is the user's choice, so it stays as written: a numeric string under a ``Num`` key
    becomes a number, a number under a plain key becomes text, anything else is refused.
    """
    if isinstance(value, dict | list):
        raise ValueError(f"meta key {key!r} needs a single value, not {type(value).__name__}")
    if key.endswith("Num"):
        if is_number(value):
            return value  # type: ignore[no-any-return]
        if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
            number = float(value)
            return int(number) if number.is_integer() and "." not in value else number
        raise ValueError(f"meta key {key!r} ends in 'Num' but the value {value!r} is not a number")
    if key.endswith("At"):
        if isinstance(value, str) and is_date_time(value.strip()):
            return value.strip()
        raise ValueError(
            f"meta key {key!r} ends in 'At' but the value {value!r} is not an ISO-8601 date-time"
        )
    return _text(value)


def _text(value: Scalar) -> str:
    """Booleans become ``true``/``false`` (Kustomer lists no boolean kind); the rest ``str``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
