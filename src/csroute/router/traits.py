"""What a destination remembers about each user from their identify events.

Destinations such as Custify and Kustomer need a user's email on every call, but SDKs send it
only on identify. The router remembers identify traits per destination and user, and hands
them to the transform of the user's later events. Per-user order means an identify is always
seen before the events that follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from csroute.events.model import Event

_EMPTY: Mapping[str, Any] = {}


class TraitsMemory:
    """The remembered traits of the users in one round; records which ones changed."""

    def __init__(self, stored: Mapping[str, bytes]) -> None:
        self._stored = stored
        self._traits: dict[str, dict[str, Any]] = {}
        self._changed: set[str] = set()

    def see(self, user: str, event: Event) -> Mapping[str, Any]:
        """Learn from ``event`` if it is an identify; return what is known of ``user``."""
        known = self._traits.get(user)
        if known is None:
            raw = self._stored.get(user)
            known = self._traits[user] = msgspec.json.decode(raw) if raw else {}
        if event.get("type") == "identify":
            context = event.get("context")
            for source in (
                context.get("traits") if isinstance(context, dict) else None,
                event.get("traits"),
            ):
                if isinstance(source, dict):
                    for key, value in source.items():
                        # Scalars only: what later events need is who the user is, not their
                        # nested profile, and this keeps the per-user record small.
                        if (
                            value is not None
                            and not isinstance(value, dict | list)
                            and known.get(key) != value
                        ):
                            known[key] = value
                            self._changed.add(user)
        return known or _EMPTY

    def changed(self) -> dict[str, bytes]:
        return {u: msgspec.json.encode(self._traits[u]) for u in self._changed}
