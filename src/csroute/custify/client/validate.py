"""Checks made before a request is sent, where docs/custify-api.md gives the rule, so a mistake is
reported locally with the field named and costs no request (and no rate-limit budget).

Only rules that do not depend on the account are checked here: type locks of custom attributes
depend on what the account has seen, so Custify itself reports those.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import msgspec

from csroute.custify.api import (
    MAX_CUSTOM_FIELDS,
    MAX_KEY_LENGTH,
    MAX_METADATA_CHARS,
    MAX_METADATA_KEYS,
    MAX_STRING_LENGTH,
)
from csroute.custify.client.errors import ValidationError


def invalid(field: str, problem: str) -> ValidationError:
    return ValidationError(f"{field}: {problem}", field=field)


def required(data: Mapping[str, Any], *fields: str) -> None:
    for name in fields:
        if data.get(name) in (None, ""):
            raise invalid(name, "is required")


def any_of(data: Mapping[str, Any], *fields: str) -> None:
    if all(data.get(name) in (None, "") for name in fields):
        raise invalid(fields[0], f"one of {', '.join(fields)} is required")


def choice(data: Mapping[str, Any], field: str, allowed: Collection[str]) -> None:
    value = data.get(field)
    if value is not None and value not in allowed:
        raise invalid(field, f"must be one of {', '.join(allowed)} (got {value!r})")


def strings(data: Mapping[str, Any], fields: Collection[str], limit: int) -> None:
    for name in fields:
        value = data.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise invalid(name, f"is longer than {limit} characters")


def integer(value: Any, field: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(field, f"must be an integer from {low} to {high} (got {value!r})")


def exactly_one(**identifiers: Any) -> tuple[str, Any]:
    """The one identifier given (a wrong id could change the wrong record, so never guess)."""
    given = [(name, value) for name, value in identifiers.items() if value not in (None, "")]
    if len(given) != 1:
        names = ", ".join(identifiers)
        raise invalid(next(iter(identifiers)), f"give exactly one of {names}")
    return given[0]


def custom_attributes(data: Mapping[str, Any], *, currency: bool = False) -> None:
    """docs/custify-api.md, "Attribute types and limits": key and value rules, and the 250-field
    cap."""
    attributes = data.get("custom_attributes")
    if attributes is None:
        return
    if not isinstance(attributes, Mapping):
        raise invalid("custom_attributes", "must be an object")
    if len(attributes) > MAX_CUSTOM_FIELDS:
        raise invalid("custom_attributes", f"at most {MAX_CUSTOM_FIELDS} fields per entity")
    for key, value in attributes.items():
        field = f"custom_attributes.{key}"
        if "." in key or "$" in key:
            raise invalid(field, "keys cannot contain '.' or '$'")
        if len(key) > MAX_KEY_LENGTH:
            raise invalid(field, f"keys are at most {MAX_KEY_LENGTH} characters")
        if key.isdigit():
            raise invalid(field, "keys cannot be all digits")
        if isinstance(value, Mapping) and currency and set(value) == {"value", "currency"}:
            continue
        if isinstance(value, Mapping | list | tuple):
            raise invalid(field, "values are strings, numbers or booleans, not objects or arrays")
        if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:
            raise invalid(field, f"is longer than {MAX_STRING_LENGTH} characters")


def metadata(data: Mapping[str, Any]) -> None:
    """Event metadata: flat, at most 50 keys and 10,000 characters serialised (5.3)."""
    value = data.get("metadata")
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise invalid("metadata", "must be an object")
    if len(value) > MAX_METADATA_KEYS:
        raise invalid("metadata", f"at most {MAX_METADATA_KEYS} keys")
    if len(msgspec.json.encode(value)) > MAX_METADATA_CHARS:
        raise invalid("metadata", f"at most {MAX_METADATA_CHARS} characters when serialised")
    for key, item in value.items():
        if isinstance(item, Mapping | list | tuple):
            raise invalid(f"metadata.{key}", "must be flat (no objects or arrays)")
