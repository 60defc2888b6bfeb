"""The gateway over real HTTP: every endpoint, every bad input, durable acks."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from gateway_support import SOURCES, WRITE_KEY, Gateway, basic, serve
from prometheus_client import CollectorRegistry

from csroute.events.limits import Limits
from csroute.gateway.app import GatewayApp, Receive, Scope, Send
from csroute.gateway.deadlines import BodyDeadlines
from csroute.gateway.metrics import PrometheusGatewayMetrics
from csroute.store.sqlite import SQLiteStore

EVENTS = {
    "identify": {"userId": "u1", "traits": {"email": "a@example.com"}},
    "track": {"userId": "u1", "event": "Signed Up", "properties": {"plan": "pro"}},
    "page": {"anonymousId": "a1", "name": "Home"},
    "screen": {"userId": 7, "name": "Settings"},
    "group": {"userId": "u1", "groupId": "acme", "traits": {"name": "Acme"}},
    "alias": {"userId": "u1", "previousId": "a1"},
}


def error(response: httpx.Response, status: int, field: str, rule: str) -> dict[str, Any]:
    """Assert an error response: status, field, rule, and the keys the SDKs read."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["field"], body["rule"]) == (field, rule), body
    assert body["code"] == rule and body["message"] == body["error"] and body["error"]
    return body


@pytest.mark.parametrize("kind", sorted(EVENTS))
async def test_single_event_endpoints_store_the_event(gateway: Gateway, kind: str) -> None:
    before = datetime.now(UTC)
    response = await gateway.client.post(f"/v1/{kind}", json=EVENTS[kind])
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": 1}
    [stored] = await gateway.stored()
    assert stored["type"] == kind
    assert stored["_source"] == "web"
    assert stored["_user_key"] == str(EVENTS[kind].get("userId", "a1"))
    assert uuid.UUID(stored["messageId"]).version == 4
    received = datetime.fromisoformat(stored["receivedAt"])
    assert received is not None
    assert before - timedelta(milliseconds=1) <= received <= datetime.now(UTC)
    assert stored["receivedAt"].endswith("Z") and len(stored["receivedAt"]) == 24
    assert stored["timestamp"] == stored["receivedAt"]
    for key, value in EVENTS[kind].items():
        assert stored[key] == value


async def test_batch_and_import_store_every_event_in_order(gateway: Gateway) -> None:
    batch = [{"type": kind, "messageId": f"m-{kind}", **EVENTS[kind]} for kind in sorted(EVENTS)]
    for path in ("/v1/batch", "/v1/import"):
        response = await gateway.client.post(path, json={"batch": batch})
        assert response.json() == {"success": True, "accepted": 6}
    stored = await gateway.stored()
    assert [e["messageId"] for e in stored] == [e["messageId"] for e in batch] * 2


async def test_clock_skew_is_corrected_from_sent_at(gateway: Gateway) -> None:
    # The client's clock is a day ahead; the event happened 30 s before the batch was sent.
    client_now = datetime.now(UTC) + timedelta(days=1)
    body = {
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "e",
                "timestamp": (client_now - timedelta(seconds=30)).isoformat(),
            }
        ],
        "sentAt": client_now.isoformat(),
    }
    assert (await gateway.client.post("/v1/batch", json=body)).status_code == 200
    [stored] = await gateway.stored()
    received = datetime.fromisoformat(stored["receivedAt"])
    corrected = datetime.fromisoformat(stored["timestamp"])
    assert received is not None and corrected is not None
    assert received - corrected == timedelta(seconds=30)
    assert stored["originalTimestamp"] == body["batch"][0]["timestamp"]  # type: ignore[index]
    assert stored["sentAt"] == body["sentAt"]


async def test_write_key_in_the_body_and_never_stored(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
        single = await anonymous.post("/v1/track", json={**EVENTS["track"], "writeKey": WRITE_KEY})
        batch = await anonymous.post(
            "/v1/batch", json={"batch": [{"type": "page", "userId": "u"}], "writeKey": WRITE_KEY}
        )
    assert (single.status_code, batch.status_code) == (200, 200)
    stored = await gateway.stored()
    assert len(stored) == 2
    assert all("writeKey" not in e for e in stored)
    assert WRITE_KEY.encode() not in b"".join(msgspec.json.encode(e) for e in stored)


async def test_basic_auth_password_is_ignored(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/v1/track", json=EVENTS["track"], headers=basic(WRITE_KEY, "anything")
    )
    assert response.status_code == 200


async def test_gzip_body(gateway: Gateway) -> None:
    body = msgspec.json.encode({"batch": [{"type": "identify", "userId": "u"}] * 3})
    response = await gateway.client.post(
        "/v1/batch",
        content=gzip.compress(body),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.json() == {"success": True, "accepted": 3}


async def test_a_batch_with_bad_events_stores_the_good_ones(gateway: Gateway) -> None:
    batch = [
        {"type": "track", "userId": "u1", "event": "ok"},
        {"type": "track", "userId": "u1"},
        {"type": "identify", "anonymousId": "a", "timestamp": "last tuesday"},
        {"type": "identify", "userId": "u2", "traits": {"big": "x" * 40_000}},
        {"type": "page", "userId": "u3"},
    ]
    response = await gateway.client.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "accepted": 2,
        "rejected": [
            {
                "index": 1,
                "field": "batch[1].event",
                "rule": "required",
                "error": "event (the name of the action) is required",
            },
            {
                "index": 2,
                "field": "batch[2].timestamp",
                "rule": "iso8601",
                "error": 'timestamp "last tuesday" is not an ISO-8601 date-time',
            },
            {
                "index": 3,
                "field": "batch[3]",
                "rule": "max_event_bytes",
                "error": "the event exceeds 32768 bytes",
            },
        ],
    }
    assert [e["_user_key"] for e in await gateway.stored()] == ["u1", "u3"]


async def test_a_batch_with_no_good_event_is_a_400_listing_each(gateway: Gateway) -> None:
    batch = [{"type": "track", "userId": "u"}, {"type": "signup", "userId": "u"}]
    response = await gateway.client.post("/v1/batch", json={"batch": batch})
    body = error(response, 400, "batch[0].event", "required")
    assert [(r["index"], r["rule"]) for r in body["rejected"]] == [
        (0, "required"),
        (1, "event_type"),
    ]
    assert await gateway.stored() == []


def gzipped(data: bytes) -> tuple[bytes, dict[str, str]]:
    return gzip.compress(data), {"Content-Encoding": "gzip"}


BOMB = gzip.compress(b" " * 200_000_000)  # 200 MB of JSON whitespace in about 200 KB
TRACK = msgspec.json.encode(EVENTS["track"])


def batch_with(field: str, value: bytes) -> bytes:
    """A batch of one good event with a batch-level ``field`` of the given raw JSON."""
    return b'{"batch":[{"type":"track","userId":"u","event":"E"}],"%s":%s}' % (
        field.encode(),
        value,
    )


# (name, path, body, extra headers, status, field, rule)
BAD_INPUTS: list[tuple[str, str, bytes, dict[str, str], int, str, str]] = [
    ("bad json", "/v1/track", b'{"userId": "u", ', {}, 400, "", "json"),
    ("not utf-8", "/v1/track", b'{"userId": "\xff"}', {}, 400, "", "utf8"),
    *(
        (f"bad utf-8 in {field}", "/v1/batch", batch_with(field, value), {}, 400, field, "utf8")
        for field, value in (
            ("context", b'{"ip": "\xff"}'),
            ("context", b'{"\xff": 1}'),
            ("integrations", b'{"All": "\xc3"}'),
            ("sentAt", b'"2026-01-01T00:00:00\xffZ"'),
            ("writeKey", b'"wk\xff"'),
        )
    ),
    ("empty body", "/v1/track", b"", {}, 400, "", "json"),
    ("array body", "/v1/identify", b"[]", {}, 400, "", "object"),
    ("wrong type", "/v1/track", b'{"type":"identify","userId":"u"}', {}, 400, "type", "event_type"),
    (
        "unknown batch type",
        "/v1/batch",
        b'{"batch":[{"type":"x","userId":"u"}]}',
        {},
        400,
        "batch[0].type",
        "event_type",
    ),
    ("missing ids", "/v1/identify", b'{"traits":{}}', {}, 400, "userId", "required"),
    ("nul in userId", "/v1/identify", b'{"userId":"a\\u0000b"}', {}, 400, "userId", "nul"),
    (
        "nul in anonymousId",
        "/v1/identify",
        b'{"userId":"","anonymousId":"\\u0000"}',
        {},
        400,
        "anonymousId",
        "nul",
    ),
    ("missing event", "/v1/track", b'{"userId":"u"}', {}, 400, "event", "required"),
    ("missing groupId", "/v1/group", b'{"userId":"u"}', {}, 400, "groupId", "required"),
    ("missing previousId", "/v1/alias", b'{"userId":"u"}', {}, 400, "previousId", "required"),
    (
        "properties not object",
        "/v1/track",
        b'{"userId":"u","event":"e","properties":[]}',
        {},
        400,
        "properties",
        "type",
    ),
    (
        "bad timestamp",
        "/v1/page",
        b'{"userId":"u","timestamp":"2026-02-30T00:00:00Z"}',
        {},
        400,
        "timestamp",
        "iso8601",
    ),
    (
        "bad batch sentAt",
        "/v1/batch",
        b'{"batch":[{"type":"page","userId":"u"}],"sentAt":"x"}',
        {},
        400,
        "sentAt",
        "iso8601",
    ),
    ("no batch", "/v1/batch", b'{"events":[]}', {}, 400, "batch", "required"),
    (
        "event over 32 KB",
        "/v1/track",
        msgspec.json.encode({"userId": "u", "event": "x" * 33_000}),
        {},
        413,
        "",
        "max_event_bytes",
    ),
    (
        "request over 500 KB",
        "/v1/batch",
        b'{"batch":[' + b",".join([TRACK] * 8000) + b"]}",
        {},
        413,
        "",
        "max_request_bytes",
    ),
    (
        "inflates over 500 KB",
        "/v1/batch",
        *gzipped(b'{"batch":[' + b",".join([TRACK] * 8000) + b"]}"),
        413,
        "",
        "max_request_bytes",
    ),
    ("gzip bomb", "/v1/batch", BOMB, {"Content-Encoding": "gzip"}, 413, "", "max_request_bytes"),
    ("not gzip", "/v1/track", TRACK, {"Content-Encoding": "gzip"}, 400, "", "gzip"),
    (
        "too many events",
        "/v1/batch",
        msgspec.json.encode({"batch": [{"type": "page", "userId": "u"}] * 51}),
        {},
        413,
        "batch",
        "max_batch_events",
    ),
    (
        "nested 40 deep",
        "/v1/track",
        b'{"userId":"u","event":"e","properties":' + b'{"a":' * 39 + b"1" + b"}" * 40,
        {},
        400,
        "",
        "max_depth",
    ),
    (
        "nested 100000 deep",
        "/v1/batch",
        b'{"batch":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        {},
        400,
        "",
        "max_depth",
    ),
    (
        "a form, labelled as one",
        "/v1/track",
        b"userId=u&event=e",
        {"Content-Type": "application/x-www-form-urlencoded"},
        400,
        "",
        "json",
    ),
    (
        "content encoding",
        "/v1/track",
        TRACK,
        {"Content-Encoding": "br"},
        415,
        "",
        "content_encoding",
    ),
    ("no write key", "/v1/track", TRACK, {"Authorization": ""}, 401, "writeKey", "write_key"),
    (
        "unknown write key",
        "/v1/track",
        TRACK,
        basic("wk_nope_123456"),
        401,
        "writeKey",
        "write_key",
    ),
    (
        "bearer token",
        "/v1/track",
        TRACK,
        {"Authorization": "Bearer " + WRITE_KEY},
        401,
        "writeKey",
        "write_key",
    ),
    (
        "garbled basic",
        "/v1/track",
        TRACK,
        {"Authorization": "Basic %%%"},
        401,
        "writeKey",
        "write_key",
    ),
    (
        "disabled source",
        "/v1/track",
        TRACK,
        basic(SOURCES[1].write_key),
        404,
        "writeKey",
        "source_disabled",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "field", "rule"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
async def test_bad_input(
    gateway: Gateway,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    field: str,
    rule: str,
) -> None:
    response = await gateway.client.post(
        path, content=body, headers={"Content-Type": "application/json", **headers}
    )
    error(response, status, field, rule)
    assert WRITE_KEY not in response.text
    assert await gateway.stored() == []


async def test_the_server_keeps_serving_after_every_bad_input(gateway: Gateway) -> None:
    for _, path, body, headers, status, *_ in BAD_INPUTS:
        response = await gateway.client.post(
            path, content=body, headers={"Content-Type": "application/json", **headers}
        )
        assert response.status_code == status
        good = await gateway.client.post("/v1/track", json=EVENTS["track"])
        assert good.status_code == 200
    assert len(await gateway.stored()) == len(BAD_INPUTS)


async def test_oversize_content_length_is_refused_before_the_body_is_sent(
    gateway: Gateway,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(gateway.url.rsplit(":", 1)[1]))
    auth = basic(WRITE_KEY)["Authorization"]
    writer.write(
        b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: {auth}\r\nContent-Length: 100000000\r\n\r\n".encode()
        + b'{"batch":['
    )
    await writer.drain()
    response = await reader.read()  # the server answers, then closes: 100 MB are not awaited
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in head.lower()
    assert msgspec.json.decode(body)["rule"] == "max_request_bytes"


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: 100\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\na\r\n"],
    ids=["content-length", "chunked"],
)
async def test_a_body_that_never_completes_is_a_408_and_the_connection_closes(
    store: SQLiteStore, framing: bytes
) -> None:
    """The client promises more than it sends and waits: the server answers and hangs up."""
    app = GatewayApp(store, SOURCES, Limits(body_timeout_s=0.2))
    async with serve(app) as url:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
        auth = basic(WRITE_KEY)["Authorization"]
        writer.write(
            f"POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n".encode()
            + framing
            + b'{"userId":'
        )
        await writer.drain()
        response = await reader.read()  # returns once the server has closed the connection
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert msgspec.json.decode(body)["rule"] == "body_timeout"
    assert (await store.read_new("r", ["web"], 10)).events == []


async def test_store_failure_is_a_503_and_nothing_is_acknowledged(gateway: Gateway) -> None:
    await gateway.store.close()
    response = await gateway.client.post("/v1/track", json=EVENTS["track"])
    error(response, 503, "", "store_unavailable")
    reopened = await SQLiteStore.open(gateway.store.path)
    try:
        assert (await reopened.read_new("x", ["web"], 10)).events == []
    finally:
        await reopened.close()


async def test_concurrent_requests_are_all_stored(gateway: Gateway) -> None:
    responses = await asyncio.gather(
        *(
            gateway.client.post("/v1/track", json={"userId": f"u{i}", "event": "e"})
            for i in range(200)
        )
    )
    assert {r.status_code for r in responses} == {200}
    assert sorted(e["_user_key"] for e in await gateway.stored()) == sorted(
        f"u{i}" for i in range(200)
    )


async def test_methods_paths_and_cors(gateway: Gateway) -> None:
    get = await gateway.client.get("/v1/track")
    error(get, 405, "", "method")
    assert get.headers["allow"] == "POST, OPTIONS"
    error(await gateway.client.post("/v1/trak", json={}), 404, "", "not_found")
    error(await gateway.client.get("/health"), 404, "", "not_found")
    preflight = await gateway.client.options("/v1/batch")
    assert preflight.status_code == 204
    assert "content-encoding" in preflight.headers["access-control-allow-headers"]
    origin = "https://app.example.com"
    browser = {"origin": origin}
    ok = await gateway.client.post("/v1/track/", json=EVENTS["track"], headers=browser)
    assert ok.headers["access-control-allow-origin"] == origin
    assert ok.headers["access-control-allow-credentials"] == "true"
    refused = await gateway.client.post("/v1/track", content=b"{", headers=browser)
    assert refused.status_code == 400
    assert refused.headers["access-control-allow-origin"] == origin  # readable by the page
    server = await gateway.client.post("/v1/track", json=EVENTS["track"])
    assert server.status_code == 200
    assert "access-control-allow-origin" not in server.headers  # no Origin: not a browser


async def test_other_paths_go_to_the_fallback_app(store: SQLiteStore) -> None:
    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        body = scope["path"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app = GatewayApp(store, SOURCES, Limits(), fallback=fallback)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/health")).text == "/health"
        assert (await client.get("/v1/nothing")).status_code == 404
        track = await client.post("/v1/track", json=EVENTS["track"], headers=basic(WRITE_KEY))
        assert track.status_code == 200


async def test_metrics_count_per_source_and_rule(store: SQLiteStore) -> None:
    registry = CollectorRegistry()
    app = GatewayApp(store, SOURCES, Limits(), metrics=PrometheusGatewayMetrics(registry))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=basic(WRITE_KEY)) as c:
        batch = [
            {"type": "page", "userId": "u"},
            {"type": "page"},
            {"type": "alias", "userId": "u"},
        ]
        await c.post("/v1/batch", json={"batch": batch})
        await c.post("/v1/track", json=EVENTS["track"])
        await c.post("/v1/track", json={"event": "no user"})  # counted once, not per layer
        await c.post("/v1/track", content=b"{", headers={"Content-Type": "application/json"})
        await c.post("/v1/track", json=EVENTS["track"], headers=basic("wk_nope_123456"))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("csroute_gateway_events_accepted_total", source="web") == 2
    assert value("csroute_gateway_events_rejected_total", source="web", reason="required") == 3
    assert value("csroute_gateway_events_rejected_total", source="web", reason="json") == 1
    assert value("csroute_gateway_events_rejected_total", source="", reason="write_key") == 1


async def test_only_the_body_deadline_is_taken_for_one() -> None:
    """A request task cancelled for another reason (the server stopping) stays cancelled."""
    deadlines = BodyDeadlines(60)
    started = asyncio.Event()

    async def reading() -> None:
        task = deadlines.begin()
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            assert not deadlines.expired(task)
            raise
        finally:
            deadlines.end(task)

    task = asyncio.create_task(reading())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
