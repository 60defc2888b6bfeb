"""Segment-spec rules and the fields the gateway stamps (pure: no server, no store)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from csroute.events.decode import Envelope
from csroute.events.errors import Rejection, RequestError
from csroute.events.limits import Limits
from csroute.events.model import NewEvent
from csroute.events.timestamps import format_ms, parse_ms
from csroute.events.validate import accept_batch, accept_event

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)

RECEIVED = int(datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC).timestamp() * 1000)


def one(event: dict[str, Any], implied: str = "track") -> dict[str, Any]:
    """Accept the event of a single-event request and return it as stored."""
    accepted = accept_event(event, implied, "web", RECEIVED)
    assert accepted.source == "web"
    stored: dict[str, Any] = msgspec.json.decode(accepted.payload)
    assert accepted.type == stored["type"]
    return stored


def batch(events: list[Any], **fields: Any) -> tuple[list[NewEvent], list[Rejection]]:
    """Accept the events of a /v1/batch request (``fields``: its batch-level fields)."""
    items = [msgspec.Raw(msgspec.json.encode(e)) for e in events]
    return accept_batch(Envelope(items, Limits(), **fields), "web", RECEIVED)


def refused(event: Any) -> Rejection:
    events, rejected = batch([event])
    assert events == []
    assert len(rejected) == 1
    return rejected[0]


def test_stamps_message_id_received_at_and_timestamp_when_the_client_sent_none() -> None:
    stored = one({"userId": "u1", "event": "Signed Up"})
    assert stored["type"] == "track"
    assert uuid.UUID(stored["messageId"]).version == 4
    assert stored["receivedAt"] == "2026-03-01T12:00:00.250Z"
    assert stored["timestamp"] == stored["receivedAt"]
    assert "originalTimestamp" not in stored


def test_keeps_the_clients_message_id() -> None:
    assert one({"userId": "u1", "event": "x", "messageId": "m-1"})["messageId"] == "m-1"


def test_corrects_clock_skew_from_sent_at_like_segment() -> None:
    # The client's clock is 1 hour fast: it sent 10 s after the event happened.
    stored = one(
        {
            "userId": "u1",
            "event": "x",
            "timestamp": "2026-03-01T13:00:00.000+00:00",
            "sentAt": "2026-03-01T13:00:10Z",
        }
    )
    assert stored["timestamp"] == "2026-03-01T11:59:50.250Z"  # receivedAt - 10 s
    assert stored["originalTimestamp"] == "2026-03-01T13:00:00.000+00:00"
    assert stored["sentAt"] == "2026-03-01T13:00:10Z"


def test_uses_the_batch_sent_at_for_events_without_their_own() -> None:
    events, _ = batch(
        [
            {
                "type": "track",
                "userId": "u",
                "event": "a",
                "timestamp": "2026-03-01T10:00:05+01:00",
            },
            {
                "type": "track",
                "userId": "u",
                "event": "b",
                "sentAt": "2026-03-01T09:00:07Z",
                "timestamp": "2026-03-01T09:00:06Z",
            },
        ],
        sent_at="2026-03-01T09:00:08Z",
    )
    first, second = (msgspec.json.decode(e.payload) for e in events)
    assert first["timestamp"] == "2026-03-01T11:59:57.250Z"  # 3 s before the batch was sent
    assert first["sentAt"] == "2026-03-01T09:00:08Z"
    assert second["timestamp"] == "2026-03-01T11:59:59.250Z"  # its own sentAt wins: 1 s
    assert second["sentAt"] == "2026-03-01T09:00:07Z"


def test_without_sent_at_the_client_time_is_kept_and_normalised_to_utc() -> None:
    stored = one({"userId": "u", "event": "x", "timestamp": "2026-02-01T10:00:00.123456+02:00"})
    assert stored["timestamp"] == "2026-02-01T08:00:00.123Z"
    assert stored["originalTimestamp"] == "2026-02-01T10:00:00.123456+02:00"


def test_original_timestamp_alone_is_the_client_time_and_kept_as_sent() -> None:
    # RudderStack's JavaScript SDK sends originalTimestamp and sentAt, no timestamp.
    stored = one(
        {
            "anonymousId": "a",
            "event": "x",
            "originalTimestamp": "2026-03-01T12:30:00Z",
            "sentAt": "2026-03-01T12:30:02Z",
        }
    )
    assert stored["timestamp"] == "2026-03-01T11:59:58.250Z"
    assert stored["originalTimestamp"] == "2026-03-01T12:30:00Z"


def test_client_received_at_is_overwritten_and_write_key_removed() -> None:
    stored = one(
        {"userId": "u", "event": "x", "receivedAt": "1999-01-01T00:00:00Z", "writeKey": "k"}
    )
    assert stored["receivedAt"] == "2026-03-01T12:00:00.250Z"
    assert "writeKey" not in stored


def test_batch_context_and_integrations_are_defaults() -> None:
    events, _ = batch(
        [
            {"type": "identify", "userId": "u"},
            {"type": "identify", "userId": "v", "context": {"ip": "2"}},
        ],
        context={"ip": "1"},
        integrations={"All": False},
    )
    first, second = (msgspec.json.decode(e.payload) for e in events)
    assert first["context"] == {"ip": "1"} and first["integrations"] == {"All": False}
    assert second["context"] == {"ip": "2"}


def test_user_key_prefers_user_id_and_accepts_numbers() -> None:
    events, _ = batch(
        [
            {"type": "page", "userId": 42, "anonymousId": "a"},
            {"type": "page", "userId": "", "anonymousId": "a"},
        ],
    )
    assert [e.user_key for e in events] == ["42", "a"]


def test_single_endpoint_fills_in_its_type() -> None:
    assert one({"userId": "u", "groupId": "g"}, implied="group")["type"] == "group"


@pytest.mark.parametrize(
    ("event", "field", "rule"),
    [
        ([1, 2], "batch[0]", "object"),
        ({"userId": "u"}, "batch[0].type", "required"),
        ({"type": "click", "userId": "u"}, "batch[0].type", "event_type"),
        ({"type": ["track"], "userId": "u"}, "batch[0].type", "event_type"),
        ({"type": "identify"}, "batch[0].userId", "required"),
        ({"type": "identify", "userId": "", "anonymousId": None}, "batch[0].userId", "required"),
        ({"type": "identify", "userId": True}, "batch[0].userId", "type"),
        ({"type": "identify", "userId": "u", "anonymousId": {}}, "batch[0].anonymousId", "type"),
        ({"type": "track", "userId": "u"}, "batch[0].event", "required"),
        ({"type": "track", "userId": "u", "event": ""}, "batch[0].event", "required"),
        ({"type": "track", "userId": "u", "event": 7}, "batch[0].event", "type"),
        ({"type": "group", "userId": "u"}, "batch[0].groupId", "required"),
        ({"type": "group", "userId": "u", "groupId": [1]}, "batch[0].groupId", "type"),
        ({"type": "alias", "userId": "u"}, "batch[0].previousId", "required"),
        ({"type": "identify", "userId": "u", "traits": [1]}, "batch[0].traits", "type"),
        (
            {"type": "track", "userId": "u", "event": "e", "properties": "x"},
            "batch[0].properties",
            "type",
        ),
        ({"type": "page", "userId": "u", "context": 1}, "batch[0].context", "type"),
        ({"type": "page", "userId": "u", "integrations": []}, "batch[0].integrations", "type"),
        ({"type": "page", "userId": "u", "name": 3}, "batch[0].name", "type"),
        ({"type": "page", "userId": "u", "messageId": 3}, "batch[0].messageId", "type"),
        (
            {"type": "page", "userId": "u", "timestamp": "yesterday"},
            "batch[0].timestamp",
            "iso8601",
        ),
        ({"type": "page", "userId": "u", "timestamp": 1700000000}, "batch[0].timestamp", "type"),
        (
            {"type": "page", "userId": "u", "sentAt": "2026-13-01T00:00:00Z"},
            "batch[0].sentAt",
            "iso8601",
        ),
        (
            {"type": "page", "userId": "u", "originalTimestamp": "01/02/2026"},
            "batch[0].originalTimestamp",
            "iso8601",
        ),
        (
            {
                "type": "page",
                "userId": "u",
                "timestamp": "0001-01-01T00:00:00Z",
                "sentAt": "9999-01-01T00:00:00Z",
            },
            "batch[0].timestamp",
            "iso8601",
        ),
    ],
)
def test_rules(event: Any, field: str, rule: str) -> None:
    rejection = refused(event)
    assert (rejection.field, rejection.rule, rejection.index) == (field, rule, 0)
    assert rejection.message


def test_single_endpoint_rejects_another_type_and_names_fields_without_batch_prefix() -> None:
    with pytest.raises(RequestError) as info:
        accept_event({"type": "identify", "userId": "u"}, "track", "web", RECEIVED)
    rejection = info.value.rejection
    assert (info.value.status, rejection.field, rejection.rule) == (400, "type", "event_type")
    assert "/v1/track" in rejection.message


def test_a_bad_event_rejects_only_itself() -> None:
    events, rejected = batch(
        [
            {"type": "identify", "userId": "a"},
            {"type": "identify"},
            {"type": "alias", "userId": "b", "previousId": "c"},
        ],
    )
    assert [e.user_key for e in events] == ["a", "b"]
    assert [(r.index, r.field) for r in rejected] == [(1, "batch[1].userId")]


def test_long_client_values_are_cut_short_in_errors() -> None:
    rejection = refused({"type": "x" * 10_000, "userId": "u"})
    assert len(rejection.message) < 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T12:00:00Z", "2026-03-01T12:00:00.000Z"),
        ("2026-03-01T12:00:00.123456789Z", "2026-03-01T12:00:00.123Z"),
        ("2026-03-01T14:00:00.5+02:00", "2026-03-01T12:00:00.500Z"),
        ("2026-03-01T12:00:00", "2026-03-01T12:00:00.000Z"),  # no offset: UTC
        ("2026-03-01", "2026-03-01T00:00:00.000Z"),
    ],
)
def test_iso_timestamps(text: str, expected: str) -> None:
    instant = parse_ms(text)
    assert instant is not None
    assert format_ms(instant) == expected


@pytest.mark.parametrize("text", ["", "now", "2026-02-30T00:00:00Z", "12:00", "1700000000"])
def test_not_iso_timestamps(text: str) -> None:
    assert parse_ms(text) is None
