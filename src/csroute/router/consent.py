"""Consent gating: does an event carry the visitor's consent for a destination's categories?

Consent is opt-in here. A category counts as granted only when the event says so explicitly,
and a denial anywhere wins over a grant elsewhere, so an event with no consent data, or with
data the SDK did not fill in, never reaches a destination that requires consent. That is
stricter than RudderStack (which filters only on denied ids) and Segment (which lets events
without a consent object through), because csroute promises that unconsented data never
leaves the machine. Category names compare case-insensitively: consent managers disagree on
case (``Marketing`` in one banner, ``marketing`` in the configuration) while ids such as
OneTrust's ``C0004`` never collide across case. Where the categories are read is listed in
docs/consent.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from csroute.events.model import Event


def consent_denial(event: Event, required: Sequence[str]) -> str | None:
    """None when the event grants every required category (or none is required), else why not."""
    if not required:
        return None
    granted, denied = _consent_of(event)
    for category in required:
        key = category.casefold()
        if key in denied:
            return f"consent: category {category!r} denied"
        if key not in granted:
            return f"consent: missing category {category!r}"
    return None


def _consent_of(event: Event) -> tuple[set[str], set[str]]:
    """The (granted, denied) categories an event carries, case-folded, from every known place."""
    granted: set[str] = set()
    denied: set[str] = set()
    context = event.get("context")
    if not isinstance(context, dict):
        return granted, denied
    rudder = context.get("consentManagement")
    if isinstance(rudder, dict):
        granted.update(_rudder_ids(rudder.get("allowedConsentIds")))
        denied.update(_rudder_ids(rudder.get("deniedConsentIds")))
    segment = context.get("consent")
    if isinstance(segment, dict):
        preferences = segment.get("categoryPreferences")
        if isinstance(preferences, dict):
            for name, value in preferences.items():
                (granted if value is True else denied).add(str(name).casefold())
        granted.update(_listed(segment.get("categories")))
    return granted, denied


def _rudder_ids(value: Any) -> Iterable[str]:
    """Ids from a list, or from RudderStack's ``{id: name}`` map, where both id and name count.

    RudderStack's JavaScript SDK v3 sends OneTrust consent as a map from group id to group name,
    other SDKs as a list of ids; a configuration may name either.
    """
    if isinstance(value, dict):
        return [s.casefold() for k, v in value.items() for s in (k, v) if isinstance(s, str)]
    return _listed(value)


def _listed(value: Any) -> Iterable[str]:
    """Ids from a JSON list (numeric ids, as iubenda's purposes, count as their text)."""
    if not isinstance(value, list):
        return []
    return [str(v).casefold() for v in value if isinstance(v, str | int)]
