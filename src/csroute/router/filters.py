"""Which events a destination wants: event type and name allow/deny lists, and consent."""

from __future__ import annotations

from csroute.config import DestinationConfig
from csroute.events.model import Event
from csroute.router.consent import consent_denial


class EventFilter:
    """Decides per event; returns the reason an event is filtered out, or None to deliver it."""

    def __init__(self, config: DestinationConfig) -> None:
        types, names = config.filters.event_types, config.filters.events
        self._allow_types = frozenset(types.allow)
        self._deny_types = frozenset(types.deny)
        self._allow_names = frozenset(names.allow)
        self._deny_names = frozenset(names.deny)
        self._consent = tuple(config.consent)

    def reason(self, event: Event) -> str | None:
        kind = event.get("type", "")
        if kind in self._deny_types or (self._allow_types and kind not in self._allow_types):
            return f"event_type: {kind!r} not allowed"
        if self._allow_names or self._deny_names:
            name = event.get("event") if kind == "track" else event.get("name")
            if name in self._deny_names or (self._allow_names and name not in self._allow_names):
                return f"event_name: {name!r} not allowed"
        if self._consent:
            return consent_denial(event, self._consent)
        return None
