"""Segment-spec validation of decoded events, and the fields the gateway stamps on them.

Rules, checked in this order (the first failure is the one reported):

* the event is a JSON object;
* ``type``: on a single-event endpoint it is implied (filled in when absent, rejected when it
  names another type); in a batch it must be one of identify, track, page, screen, group,
  alias;
* ``userId`` and ``anonymousId``, when present, are strings or numbers, and at least one is a
  non-empty string or a number; the one that names the user holds no NUL character;
* ``event`` (track) is a non-empty string; ``groupId`` (group) and ``previousId`` (alias) are
  non-empty strings or numbers;
* ``properties``, ``traits``, ``context``, ``integrations`` are objects; ``messageId``,
  ``event``, ``name`` are strings; ``timestamp``, ``originalTimestamp``, ``sentAt`` are
  ISO-8601 strings.

``null`` counts as absent everywhere, as in the SDKs (they drop null fields before sending).

Stamping, for every accepted event:

* ``receivedAt``: the server's clock when the request arrived (one value per request);
* ``messageId``: a random UUID (v4) when absent or empty, so destinations can deduplicate;
* ``sentAt``: the batch's ``sentAt`` when the event has none of its own;
* ``originalTimestamp``: the client's ``timestamp`` as sent, unless the client set
  ``originalTimestamp`` itself (RudderStack's JavaScript SDK sends only that);
* ``timestamp``: when the event happened, corrected for the client's clock skew the way
  Segment does. The client's time is its ``timestamp``, else its ``originalTimestamp``; with a
  ``sentAt`` the corrected time is ``receivedAt - (sentAt - client time)`` (the client's
  clock may be wrong, but the interval between the event and the send is right); without a
  ``sentAt`` it is the client's time; with no client time at all it is ``receivedAt``.
  Always written as UTC with milliseconds (``2026-01-31T12:00:00.000Z``);
* a ``writeKey`` in the event is removed: it is a secret and destinations must not see it.

Nothing else is changed: unknown fields are kept as sent.
"""

from __future__ import annotations

from typing import Any, Final
from uuid import uuid4

import msgspec

from csroute.events.decode import Envelope, decode_item
from csroute.events.errors import Rejection, RequestError, field_path
from csroute.events.model import EVENT_TYPES, NewEvent
from csroute.events.timestamps import format_ms, parse_ms

_OBJECT_FIELDS: Final = ("properties", "traits", "context", "integrations")
_STRING_FIELDS: Final = ("event", "name")
_REQUIRED_ID: Final = {"group": "groupId", "alias": "previousId"}
_ID_TYPES: Final = (str, int, float)
_encode = msgspec.json.Encoder().encode


class Invalid(Exception):
    """One event breaks a rule (raised and caught within this module)."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


def accept_event(
    event: dict[str, Any], implied_type: str, source: str, received_ms: int
) -> NewEvent:
    """Validate and stamp the event of a single-event request; raise ``RequestError`` (400).

    ``received_ms``: when the request arrived, in milliseconds since the epoch.
    """
    try:
        key = _checked(event, implied_type)
        _stamp(event, received_ms, format_ms(received_ms), None, None)
    except Invalid as e:
        raise RequestError(400, e.field, e.rule, e.message) from None
    return NewEvent(source, key, event["type"], _encode(event))


def accept_batch(
    envelope: Envelope, source: str, received_ms: int
) -> tuple[list[NewEvent], list[Rejection]]:
    """Validate and stamp every event of a batch: the accepted ones and the rejections."""
    received_iso = format_ms(received_ms)
    sent_at = envelope.sent_at
    sent = None if sent_at is None else parse_ms(sent_at)
    context = envelope.context
    integrations = envelope.integrations
    events: list[NewEvent] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(envelope.items):
        # Decoded here, one at a time: each event's objects are freed before the next
        # event's are made, so the garbage collector has nothing to do (decoding a whole
        # batch first made it run, and traverse them, several times per request).
        item = decode_item(index, raw, envelope.limits)
        if type(item) is Rejection:
            rejected.append(item)
            continue
        try:
            key = _checked(item, None)
            _stamp(item, received_ms, received_iso, sent, sent_at)
        except Invalid as e:
            rejected.append(Rejection(field_path(index, e.field), e.rule, e.message, index))
            continue
        if context is not None and item.get("context") is None:
            item["context"] = context
        if integrations is not None and item.get("integrations") is None:
            item["integrations"] = integrations
        events.append(NewEvent(source, key, item["type"], _encode(item)))
    return events, rejected


def _checked(event: Any, implied_type: str | None) -> str:
    """Raise ``Invalid`` unless ``event`` follows the rules; return its user key."""
    if type(event) is not dict:
        raise Invalid("", "object", "an event must be a JSON object")
    kind = event.get("type")
    if implied_type is not None:
        if kind is None:
            event["type"] = kind = implied_type
        elif kind != implied_type:
            raise Invalid(
                "type",
                "event_type",
                f"type {_show(kind)} does not match this endpoint "
                f"(/v1/{implied_type} takes {implied_type} events)",
            )
    elif type(kind) is not str or kind not in EVENT_TYPES:
        if kind is None:
            raise Invalid("type", "required", "type is required")
        raise Invalid(
            "type",
            "event_type",
            f"type {_show(kind)} is not one of {', '.join(sorted(EVENT_TYPES))}",
        )
    uid = event.get("userId")
    aid = event.get("anonymousId")
    if uid is not None and type(uid) not in _ID_TYPES:
        raise Invalid("userId", "type", "userId must be a string or a number")
    if aid is not None and type(aid) not in _ID_TYPES:
        raise Invalid("anonymousId", "type", "anonymousId must be a string or a number")
    if uid is not None and uid != "":
        key = uid if type(uid) is str else str(uid)
    elif aid is not None and aid != "":
        key = aid if type(aid) is str else str(aid)
    else:
        raise Invalid(
            "userId",
            "required",
            "userId or anonymousId is required (a non-empty string or a number)",
        )
    if "\x00" in key:  # PostgreSQL's text columns refuse it: the whole commit would fail
        name = "userId" if key is uid else "anonymousId"
        raise Invalid(name, "nul", f"{name} must not contain the NUL character")
    if kind == "track":
        if event.get("event") in (None, ""):
            raise Invalid("event", "required", "event (the name of the action) is required")
    elif kind in _REQUIRED_ID:
        id_field = _REQUIRED_ID[kind]
        value = event.get(id_field)
        if not _is_id(value):
            if value is None or value == "":
                raise Invalid(id_field, "required", f"{id_field} is required for {kind} events")
            raise Invalid(id_field, "type", f"{id_field} must be a string or a number")
    for name in _OBJECT_FIELDS:
        value = event.get(name)
        if value is not None and type(value) is not dict:
            raise Invalid(name, "type", f"{name} must be a JSON object")
    for name in _STRING_FIELDS:
        value = event.get(name)
        if value is not None and type(value) is not str:
            raise Invalid(name, "type", f"{name} must be a string")
    return key


def _stamp(
    event: dict[str, Any],
    received: int,
    received_iso: str,
    batch_sent: int | None,
    batch_sent_at: str | None,
) -> None:
    """Stamp the fields listed in the module docstring (but the batch's defaults for
    ``context`` and ``integrations``); instants are epoch milliseconds."""
    timestamp = event.get("timestamp")
    original = event.get("originalTimestamp")
    sent_at = event.get("sentAt")
    client: int | None = None
    sent = batch_sent
    if timestamp is not None:
        client = _instant("timestamp", timestamp)
        if original is None:
            event["originalTimestamp"] = timestamp
        else:
            _instant("originalTimestamp", original)
    elif original is not None:
        client = _instant("originalTimestamp", original)
    if sent_at is not None:
        sent = _instant("sentAt", sent_at)
    elif sent is not None:
        event["sentAt"] = batch_sent_at
    if client is None:
        event["timestamp"] = received_iso
    else:
        try:
            event["timestamp"] = format_ms(client if sent is None else received - (sent - client))
        except OverflowError:
            raise Invalid(
                "timestamp", "iso8601", "timestamp corrected by sentAt falls outside years 1-9999"
            ) from None
    event["receivedAt"] = received_iso
    message_id = event.get("messageId")
    if message_id is None or message_id == "":
        event["messageId"] = str(uuid4())
    elif type(message_id) is not str:
        raise Invalid("messageId", "type", "messageId must be a string")
    event.pop("writeKey", None)


def _instant(name: str, value: Any) -> int:
    if type(value) is not str:
        raise Invalid(name, "type", f"{name} must be an ISO-8601 string")
    instant = parse_ms(value)
    if instant is None:
        raise Invalid(name, "iso8601", f"{name} {_show(value)} is not an ISO-8601 date-time")
    return instant


def _is_id(value: Any) -> bool:
    kind = type(value)
    return (kind is str and value != "") or kind is int or kind is float


def _show(value: Any) -> str:
    """A client value quoted in an error, cut short: errors must stay small."""
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 40 else text[:37] + "..."
