"""Every destination type csroute knows, by its configuration name."""

from __future__ import annotations

from typing import Any

from csroute import shape
from csroute.destinations import custify, kustomer, webhook
from csroute.destinations.base import DestinationType

DESTINATION_TYPES: dict[str, DestinationType[Any]] = {
    t.name: t for t in (webhook.TYPE, custify.TYPE, kustomer.TYPE)
}


def parse_settings(type_name: str, raw: dict[str, Any]) -> tuple[Any, list[str]]:
    """Decode a destination's settings; return (settings or None, problems naming each key)."""
    dtype = DESTINATION_TYPES[type_name]
    problems = shape.problems_of(raw, dtype.settings)
    if problems:
        return None, problems
    settings = shape.convert(raw, dtype.settings)
    return settings, dtype.check(settings)
