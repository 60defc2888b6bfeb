"""Custify's typing and size rules for fields, custom attributes and event metadata.

Everything here follows docs/custify-api.md, "Attribute types and limits". Values are checked and
converted first and the first-seen type locks are returned to the caller, which commits them only
once the whole request is valid: a rejected request must not lock a type."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import msgspec

from csroute.custify.api import (
    MAX_KEY_LENGTH,
    MAX_METADATA_CHARS,
    MAX_METADATA_KEYS,
    MAX_STRING_LENGTH,
)
from csroute.custify.sandbox.responses import ApiError, Record

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

_ZONE = r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
_DATE_FORMATS = (
    re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})"),
    re.compile(r"(?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}(?::\d{2})?)" + _ZONE),
    re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2}(?:\.\d{3})?)" + _ZONE),
    re.compile(
        r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2}\.\d{6})(?P<zone>Z|[+-]\d{2}:?\d{2})"
    ),
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")

T = TypeVar("T")

DATE, NUMBER, BOOLEAN, STRING, CURRENCY = "Date", "Number", "Boolean", "String", "Currency"


def parse_date(value: Any) -> str | None:
    """The value as ``YYYY-MM-DDTHH:mm:ss.SSSZ`` in UTC if it is in one of Custify's formats."""
    if not isinstance(value, str) or len(value) < 10 or value[4] != "-":
        return None
    for pattern in _DATE_FORMATS:
        match = pattern.fullmatch(value)
        if match is not None:
            return _normalise(
                match.group("date"), match.groupdict().get("time"), match.groupdict().get("zone")
            )
    return None


def _normalise(date: str, time: str | None, zone: str | None) -> str | None:
    try:
        moment = datetime.fromisoformat(f"{date}T{time or '00:00'}")
    except ValueError:
        return None
    offset = timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        moment = moment.replace(tzinfo=timezone(offset)).astimezone(UTC)
    except (ValueError, OverflowError):  # an offset of 24 hours or more, or before year 1
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value) if "." in value else int(value)
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def detect_type(value: Any) -> str:
    """Custify's detection order for a first value: Date, Number, Boolean, then String."""
    if parse_date(value) is not None:
        return DATE
    if as_number(value) is not None:
        return NUMBER
    if _boolean(value) is not None:
        return BOOLEAN
    return STRING


def convert(value: Any, kind: str) -> Any:
    """The value stored for an attribute of type ``kind``, or ``ValueError`` if it cannot be one."""
    if kind == DATE:
        converted: Any = parse_date(value)
    elif kind == NUMBER:
        converted = as_number(value)
    elif kind == BOOLEAN:
        converted = _boolean(value)
    elif kind == CURRENCY:
        converted = value if _is_currency(value) else None
    elif isinstance(value, str):
        converted = value
    else:
        converted = msgspec.json.encode(value).decode()
    if converted is None:
        raise ValueError(kind)
    return converted


def _is_currency(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"value", "currency"}
        and as_number(value["value"]) is not None
        and isinstance(value["currency"], str)
    )


def check_key(key: str, where: str) -> None:
    if "." in key or "$" in key:
        raise ApiError(400, f"{where}.{key}: keys cannot contain '.' or '$'")
    if len(key) > MAX_KEY_LENGTH:
        raise ApiError(400, f"{where}: key longer than {MAX_KEY_LENGTH} characters")
    if key.isdigit():
        raise ApiError(400, f"{where}.{key}: keys cannot be all digits")


def typed_values(
    values: Mapping[str, Any],
    locks: Mapping[str, str],
    where: str,
    *,
    allow_currency: bool = False,
    check_keys: bool = True,
    max_string: int | None = MAX_STRING_LENGTH,
) -> tuple[Record, dict[str, str]]:
    """Validate and convert attribute values against the locked types.

    Returns the converted values and the type locks that this write would create. Keys ending in
    ``_at`` are dates whatever their first value.
    """
    converted: Record = {}
    new_locks: dict[str, str] = {}
    for key, value in values.items():
        if check_keys:
            check_key(key, where)
        if value is None:
            converted[key] = None
            continue
        if isinstance(value, dict) and allow_currency and _is_currency(value):
            first_kind = CURRENCY
        elif isinstance(value, dict | list):
            raise ApiError(400, f"{where}.{key}: objects and arrays are not allowed")
        elif isinstance(value, str) and max_string is not None and len(value) > max_string:
            raise ApiError(400, f"{where}.{key}: longer than {max_string} characters")
        else:
            first_kind = DATE if key.endswith("_at") else detect_type(value)
        kind = locks.get(key) or new_locks.get(key) or first_kind
        try:
            converted[key] = convert(value, kind)
        except ValueError:
            raise ApiError(400, f"{where}.{key}: expected a {kind} value, got {value!r}") from None
        if key not in locks:
            new_locks[key] = kind
    return converted, new_locks


def metadata_values(metadata: Any, locks: Mapping[str, str]) -> tuple[Record, dict[str, str]]:
    """Event metadata: a flat object of at most 50 keys and 10,000 serialised characters."""
    if not isinstance(metadata, dict):
        raise ApiError(400, "metadata must be an object")
    if len(metadata) > MAX_METADATA_KEYS:
        raise ApiError(400, f"metadata has more than {MAX_METADATA_KEYS} keys")
    if len(msgspec.json.encode(metadata).decode()) > MAX_METADATA_CHARS:
        raise ApiError(400, f"metadata is longer than {MAX_METADATA_CHARS} characters")
    return typed_values(metadata, locks, "metadata", check_keys=False, max_string=None)


def identifier(body: Mapping[str, Any], name: str) -> str | None:
    """Your-system ids (``user_id``, ``company_id``) are strings; integers are accepted as text."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    if len(value) > MAX_STRING_LENGTH:
        raise ApiError(400, f"{name} is longer than {MAX_STRING_LENGTH} characters")
    return value


def string_field(
    body: Mapping[str, Any], name: str, limit: int | None = MAX_STRING_LENGTH
) -> str | None:
    """A default string field. Numbers are accepted and stored as text (RudderStack sends phones as
    numbers); empty strings count as absent, as in every client."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = msgspec.json.encode(value).decode()
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    if limit is not None and len(value) > limit:
        raise ApiError(400, f"{name} is longer than {limit} characters")
    return value


def int32_field(body: Mapping[str, Any], name: str) -> int | float | None:
    value = body.get(name)
    if value is None:
        return None
    number = as_number(value)
    if number is None or not INT32_MIN <= number <= INT32_MAX:
        raise ApiError(400, f"{name} must be a number between {INT32_MIN} and {INT32_MAX}")
    return number


def bool_field(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    flag = _boolean(value)
    if flag is None:
        raise ApiError(400, f"{name} must be a boolean")
    return flag


def date_field(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    date = parse_date(value)
    if date is None:
        raise ApiError(400, f"{name} must be a date such as 2019-05-30T12:00:00.000Z")
    return date


def unset_paths(body: Mapping[str, Any], defaults: frozenset[str]) -> list[str]:
    """The ``$unset`` paths: default fields that can be cleared, or ``custom_attributes.<key>``."""
    paths = body.get("$unset")
    if paths is None:
        return []
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        raise ApiError(400, "$unset must be an array of field paths")
    for path in paths:
        if path not in defaults and not path.startswith("custom_attributes."):
            raise ApiError(400, f"$unset: {path} cannot be unset")
        if _is_set(body, path):
            raise ApiError(400, f"$unset: {path} cannot be set and unset in one request")
    return paths


def _is_set(body: Mapping[str, Any], path: str) -> bool:
    if path.startswith("custom_attributes."):
        attributes = body.get("custom_attributes")
        return isinstance(attributes, dict) and path.split(".", 1)[1] in attributes
    return path in body


def required(value: T | None, name: str) -> T:
    """The parsed value of a field the request must carry: 400 naming the field otherwise."""
    if value is None:
        raise ApiError(400, f"{name} is required")
    return value


def choice_field(body: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise ApiError(400, f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def number_field(body: Mapping[str, Any], name: str) -> int | float | None:
    value = body.get(name)
    if value is None:
        return None
    number = as_number(value)
    if number is None:
        raise ApiError(400, f"{name} must be a number")
    return number


def int_range_field(body: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    number = as_number(value)
    if not isinstance(number, int) or not low <= number <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}")
    return number


def id_list(body: Mapping[str, Any], name: str) -> list[str] | None:
    """An array of ids (tags, files, collaborators): strings, integers accepted as text."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool))
        for item in value
    ):
        raise ApiError(400, f"{name} must be an array of ids")
    return [str(item) for item in value]
