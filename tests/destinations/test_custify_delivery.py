"""Custify delivery facts: the shared rate limit, ``POST /batch`` and plain-words errors."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from csroute.destinations.base import Request
from csroute.destinations.custify import (
    Settings,
    delivery,
    explain,
    forget_error,
    forget_requests,
    rate_limit_key,
    transform,
)

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)

KEY = "ck_live_0123456789abcdef"
TS = "2026-01-02T03:04:05.000Z"


def test_rate_limit_is_per_api_key_and_never_shows_it() -> None:
    rate = delivery(Settings(api_key=KEY)).rate_limit
    assert rate is not None
    assert (rate.requests, rate.per_seconds) == (100, 10)
    digest = hashlib.sha256(KEY.encode()).hexdigest()[:16]
    assert rate.key == f"custify:{digest}@https://api.custify.com"
    assert KEY not in rate.key
    other = Settings(api_key=KEY, rate_limit_requests=300, batch_size=1, send_anonymous_id=True)
    assert delivery(other).rate_limit == rate.__class__(300, 10, rate.key)
    assert rate_limit_key(KEY, "https://api.custify.com/") == rate.key
    assert rate_limit_key("another", "https://api.custify.com") != rate.key
    assert rate_limit_key(KEY, "https://eu.custify.example") != rate.key


def test_single_request_mode_has_no_batching() -> None:
    assert delivery(Settings(api_key=KEY, batch_size=1)).batching is None


def test_batch_combines_jobs_in_order() -> None:
    settings = Settings(api_key=KEY, base_url="http://127.0.0.1:9/")
    batching = delivery(settings).batching
    assert batching is not None
    assert batching.max_size == 100 and batching.one_per_user
    requests: list[Request] = []
    for event in (
        {"type": "group", "userId": "u1", "groupId": "g1", "timestamp": TS},
        {"type": "identify", "userId": "u2", "timestamp": TS},
        {"type": "track", "userId": "u3", "event": "E", "timestamp": TS, "messageId": "m"},
    ):
        result = transform(event, settings, {})
        assert isinstance(result, list)
        requests.extend(result)
    assert all(batching.accepts(r) for r in requests)
    combined = batching.combine(requests)
    assert (combined.method, combined.url) == ("POST", "http://127.0.0.1:9/batch")
    assert dict(combined.headers)["Authorization"] == f"Bearer {KEY}"
    assert combined.body == {
        "jobs": [
            {"type": "company", "payload": requests[0].body},
            {"type": "people", "payload": requests[1].body},
            {"type": "people", "payload": requests[2].body},
            {"type": "event", "payload": requests[3].body},
        ],
        "synchronous": False,
        "returnJobId": True,
    }
    msgspec.json.encode(combined.body)


def test_batch_accepts_only_the_upserts() -> None:
    batching = delivery(Settings(api_key=KEY)).batching
    assert batching is not None
    (delete,) = forget_requests("u1", Settings(api_key=KEY))
    assert not batching.accepts(delete)
    assert not batching.accepts(Request("POST", "https://api.custify.com/note"))
    assert not batching.accepts(Request("POST", "https://other.example/people"))


def test_synchronous_batches() -> None:
    batching = delivery(Settings(api_key=KEY, batch_size=3, batch_synchronous=True)).batching
    assert batching is not None and batching.one_per_user and batching.max_size == 3
    combined = batching.combine([Request("POST", "https://api.custify.com/event", body={})])
    assert combined.body["synchronous"] is True


def test_explain_in_plain_words() -> None:
    assert "API key" in explain(401, b'{"error":"Unauthorized"}')
    missing = explain(404, b'{"error":"People not found"}')
    assert "identified" in missing and "People not found" in missing
    assert "Custify: bad name" in explain(400, b'{"error":{"message":"bad name"}}')
    assert "Custify: too long" in explain(422, b'{"message":"too long"}')
    assert "no reason given" in explain(400, b"")
    assert "server error" in explain(503, b"<html>down</html>")
    assert "rate limited" in explain(429, b"")


def test_forget_requests_encode_the_user_id() -> None:
    """Q15 (deviation): RudderStack puts the raw id into the URL."""
    (request,) = forget_requests("a b&c=d", Settings(api_key=KEY, base_url="http://127.0.0.1:9"))
    assert (request.method, request.url) == ("DELETE", "http://127.0.0.1:9/people")
    assert dict(request.params) == {"user_id": "a b&c=d"}
    assert dict(request.headers) == {"Authorization": f"Bearer {KEY}"}
    assert request.body is None


def test_forget_outcomes() -> None:
    assert forget_error(200, b"{}") is None
    assert forget_error(404, b'{"error":"User: u1 not found"}') is None
    assert forget_error(500, b"") == "Error while deleting user"
    assert forget_error(400, b'{ "error" : "x" }') == '{"error":"x"}'
