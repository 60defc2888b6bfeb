"""Kustomer's validation of tracking bodies, each disputed rule a switch (docs/sandboxes.md).

The sandbox is meant to catch what the real API would refuse, so where sources disagree the
default is the stricter reading, except for spaces in event names, where the default follows
csroute's destination (and Kustomer's own Segment integration, which sends spaced names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_IDENTITY_STRINGS = (
    "trackingId", "sessionId", "name", "company", "externalId", "username", "email", "phone",
    "locale", "timeZone", "signedUpAt", "birthdayAt",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rules:
    reject_spaces_in_names: bool = False
    """RudderStack: names with spaces are refused. Datafly's preset sends them."""
    date_time_needs_at: bool = True
    """Datafly: a date-time under a key without ``At`` is a 400. RudderStack: merely unwise."""
    allow_booleans: bool = False
    """Kustomer lists numbers, strings and date-times only."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One 400: ``pointer`` is the JSON pointer of the offending member."""

    pointer: str
    detail: str


def identity_problem(identity: Any, at: str) -> Problem | None:
    if not isinstance(identity, dict):
        return Problem(at, "identity must be an object")
    for field in _IDENTITY_STRINGS:
        if field in identity and not isinstance(identity[field], str | None):
            return Problem(f"{at}/{field}", f"{field} must be a string")
    return None


def event_problem(event: Any, at: str, rules: Rules) -> Problem | None:
    if not isinstance(event, dict):
        return Problem(at, "event must be an object")
    name = event.get("name")
    if not isinstance(name, str) or not name:
        return Problem(f"{at}/name", "event name is required")
    if not name[0].isalpha():
        return Problem(f"{at}/name", f"event name {name!r} must start with a letter")
    if rules.reject_spaces_in_names and any(c.isspace() for c in name):
        return Problem(f"{at}/name", f"event name {name!r} must not contain spaces")
    meta = event.get("meta", {})
    if not isinstance(meta, dict):
        return Problem(f"{at}/meta", "meta must be an object")
    for key, value in meta.items():
        problem = meta_problem(key, value, rules)
        if problem:
            return Problem(f"{at}/meta/{key}", problem)
    return None


def meta_problem(key: str, value: Any, rules: Rules) -> str | None:
    """Why ``key: value`` is not a valid meta entry, naming the key."""
    if any(c.isspace() for c in key) or not key:
        return f"meta key {key!r} must not be empty or contain whitespace"
    if isinstance(value, dict | list):
        return f"meta key {key!r}: meta must be flat (no objects or arrays)"
    if isinstance(value, bool):
        return None if rules.allow_booleans else f"meta key {key!r}: booleans are not accepted"
    if isinstance(value, int | float):
        return (
            None if key.endswith("Num") else f"meta key {key!r}: a number needs a key ending in Num"
        )
    if not isinstance(value, str):
        return f"meta key {key!r}: values must be numbers, strings or date-time strings"
    if key.endswith("Num"):
        return f"meta key {key!r}: a string must not be under a key ending in Num"
    if rules.date_time_needs_at and _DATE_TIME.fullmatch(value) and not key.endswith("At"):
        return f"meta key {key!r}: a date-time needs a key ending in At"
    return None
