"""A workflow's ``when:`` conditions, decided on the trigger record before the first step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from csroute.workflows.expressions import MISSING, Expression, lookup, parse, render
from csroute.workflows.settings import Condition


def hold(conditions: list[Condition], context: Mapping[str, Any]) -> bool:
    """Whether every condition holds. A missing field fails every test but ``exists: false``
    and ``not_contains``."""
    return all(_holds(c, _value(c, context)) for c in conditions)


def _value(condition: Condition, context: Mapping[str, Any]) -> Any:
    template = parse(condition.value)
    lone = template.parts[0] if len(template.parts) == 1 else None
    if isinstance(lone, Expression) and not lone.filters:
        return lookup(context, lone.path)  # missing is an answer here, not an error
    return render(template, context)


def _holds(condition: Condition, value: Any) -> bool:
    if not isinstance(condition.exists, msgspec.UnsetType):
        return (value is not MISSING and value is not None) == condition.exists
    if not isinstance(condition.not_contains, msgspec.UnsetType):
        return value is MISSING or not _contains(value, condition.not_contains)
    if value is MISSING:
        return False
    if condition.equals is not msgspec.UNSET:
        return bool(value == condition.equals)
    if condition.not_equals is not msgspec.UNSET:
        return bool(value != condition.not_equals)
    if not isinstance(condition.one_of, msgspec.UnsetType):
        return value in condition.one_of
    return _contains(value, condition.contains)


def _contains(value: Any, item: Any) -> bool:
    if isinstance(value, list):
        return item in value
    return isinstance(value, str) and str(item) in value
