"""The event as the rest of csroute sees it.

Events are kept as plain JSON objects (``dict``) rather than typed classes: the Segment spec is
open (any ``properties``, ``traits`` and ``context``), destinations read arbitrary paths, and the
log stores the JSON bytes as received plus the fields the gateway stamps. Typed code sits at the
edges: validation on the way in (``events.validate``), requests on the way out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

Event = dict[str, Any]
"""A validated Segment-spec event (``type``, ``messageId``, ``receivedAt`` always present)."""

EVENT_TYPES: Final = frozenset({"identify", "track", "page", "screen", "group", "alias"})


def user_key(event: Event) -> str:
    """The ordering key: userId, else anonymousId (as a string; the gateway guarantees one)."""
    uid = event.get("userId")
    if uid is None or uid == "":
        uid = event.get("anonymousId")
    return "" if uid is None else str(uid)


@dataclass(slots=True)
class NewEvent:
    """An accepted event on its way into the log (not frozen: that makes it twice as slow
    to create, once per event on the ingestion path)."""

    source: str
    user_key: str
    type: str
    payload: bytes  # the event as JSON, stamped by the gateway


@dataclass(slots=True, frozen=True)
class LoggedEvent:
    """An event as read back from the log: ``seq`` orders all events of one store."""

    seq: int
    source: str
    user_key: str
    type: str
    payload: bytes
