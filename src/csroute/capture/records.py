"""Capture records: plain JSON-ready dicts, masked as they are built.

A record says what happened to one event at one step: ``received`` at the gateway, or its
``outcome`` at a destination (``delivered``, ``sent`` (accepted in a batch whose outcome is
checked later), ``retrying``, ``rejected``, ``filtered``, ``dead-lettered``) with the requests it
became, the response, the latency and the attempt.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from csroute.capture.mask import Masker
from csroute.events.model import Event, LoggedEvent, NewEvent

if TYPE_CHECKING:
    from csroute.router.sender import Attempt

Record = dict[str, Any]
OUTCOMES = ("received", "delivered", "sent", "retrying", "rejected", "filtered", "dead-lettered")


def _about(source: str, user: str, kind: str, event: Event) -> Record:
    """The fields every record has, naming the event so viewers can filter on them."""
    name = event.get("event") if kind == "track" else event.get("name")
    return {
        "at": time.time(),
        "source": source,
        "user": user,
        "type": kind,
        "event": name if isinstance(name, str) else "",
        "message_id": event.get("messageId", ""),
    }


def received_record(source: str, new: NewEvent, masker: Masker) -> Record:
    event: Event = msgspec.json.decode(new.payload)
    record = _about(source, new.user_key, new.type, event)
    record.update(kind="received", outcome="received", payload=masker.value(event))
    return record


def delivery_record(
    destination: str,
    logged: LoggedEvent,
    outcome: str,
    attempt_number: int,
    requests: list[dict[str, Any]],
    attempt: Attempt | None,
    reason: str,
    masker: Masker,
    body_chars: int,
) -> Record:
    event: Event = msgspec.json.decode(logged.payload)
    record = _about(logged.source, logged.user_key, logged.type, event)
    record.update(
        kind="delivery",
        destination=destination,
        seq=logged.seq,
        outcome=outcome,
        attempt=attempt_number,
        reason=masker.text(reason),
        requests=requests,
        status=None,
        response="",
        latency_ms=None,
    )
    if attempt is not None:
        body = masker.body(attempt.body)
        record.update(
            status=attempt.status,
            response=body[:body_chars],
            response_truncated=len(body) > body_chars,
            latency_ms=round(attempt.elapsed_s * 1000, 1),
        )
        if not reason and attempt.error:
            record["reason"] = masker.text(attempt.error)
    return record
