"""Custify's outgoing webhooks end to end: the sandbox signs and delivers note and task events
(retrying failures), csroute verifies, deduplicates and hands them to the same triggers that
poll; forged or missing signatures are refused with 401 and counted."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import REGISTRY
from starlette.responses import JSONResponse
from triggers_support import API_KEY, Sandbox

from csroute.config import parse
from csroute.serve import _server
from csroute.store.base import Store
from csroute.triggers.push import PushApp
from csroute.triggers.runner import Triggers
from support.receiver import Receiver
from support.servers import ServerThread, free_port

SECRET = "whsec-test"
PUSHED = ["note_created", "note_updated", "task_created", "task_updated"]
Start = Callable[..., Awaitable["Endpoint"]]


async def not_found(scope: Any, receive: Any, send: Any) -> None:
    await JSONResponse({"error": "not found"}, status_code=404)(scope, receive, send)


class Endpoint:
    """csroute serving the webhook endpoint of one trigger, named ``hook``, on this loop."""

    def __init__(self, triggers: Triggers, url: str) -> None:
        self.triggers = triggers
        self.url = url
        self.hook = f"{url}/triggers/hook/webhook"


@pytest.fixture
async def start(sandbox: Sandbox, sqlite_store: Store) -> AsyncIterator[Start]:
    started: list[tuple[Triggers, Any, asyncio.Task[None]]] = []

    async def go(key: str, body_timeout_s: float = 30.0, **settings: Any) -> Endpoint:
        trigger = {"type": key, "push": {"secret": SECRET}, **settings}
        trigger.setdefault("track", {"source": "custify"})
        document = {
            "sources": [{"name": "custify", "write_key": "wk"}],
            "custify_connections": {"sandbox": {"api_key": API_KEY, "base_url": sandbox.url}},
            "triggers": {"hook": trigger},
        }
        triggers = Triggers(parse(yaml.safe_dump(document)), sqlite_store)
        port = free_port()
        server = _server(PushApp(triggers, not_found, body_timeout_s), "127.0.0.1", port)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        started.append((triggers, server, task))
        return Endpoint(triggers, f"http://127.0.0.1:{port}")

    yield go
    for triggers, server, task in started:
        server.should_exit = True
        await task
        await triggers.stop()


def subscribe(sandbox: Sandbox, url: str, events: list[str], secret: str = SECRET) -> None:
    body = {"url": url, "secret": secret, "events": events, "backoff_s": 0}
    response = sandbox.http.post("/__sandbox/webhooks", json=body)
    assert response.status_code == 200, response.text


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for something another server does; fail (not flake) only after a long time."""
    deadline = time.monotonic() + 15
    while not await condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.02)


async def tracked(store: Store) -> list[dict[str, Any]]:
    page = await store.read_new("probe", {"custify"}, 100)
    return [json.loads(e.payload) for e in page.events]


def deliveries(sandbox: Sandbox) -> list[dict[str, Any]]:
    hooks = sandbox.http.get("/__sandbox/webhooks").json()["webhooks"]
    return [d for hook in hooks for d in hook["deliveries"]]


def counted(outcome: str) -> float:
    labels = {"trigger": "hook", "outcome": outcome}
    return REGISTRY.get_sample_value("csroute_trigger_webhooks_total", labels) or 0.0


def signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("key", PUSHED)
async def test_a_pushed_change_is_verified_and_handed_on_once(
    sandbox: Sandbox, sqlite_store: Store, start: Start, key: str
) -> None:
    resource, kind = key.split("_")
    old = sandbox.create(resource, 1)
    endpoint = await start(key)
    assert await endpoint.triggers.poll("hook") == 0  # the reconciling poll starts from now
    subscribe(sandbox, endpoint.hook, [f"{resource}.{kind}"])
    accepted = counted("accepted")

    changed = sandbox.create(resource, 1) if kind == "created" else old
    if kind == "updated":
        sandbox.update(resource, old[0])

    async def answered() -> bool:  # counted once the delivery is handed on and remembered
        return counted("accepted") == accepted + 1

    await until(answered, "the pushed record")
    (event,) = await tracked(sqlite_store)
    assert event["properties"]["via"] == "push"
    assert event["properties"]["id"] == changed[0]
    assert event["properties"]["type"] == key
    # the reconciling poll finds the same change, moves past it, and does not hand it on again
    await endpoint.triggers.poll("hook")
    assert (await sqlite_store.trigger_cursors("hook"))[""].ids == tuple(changed)
    assert len(await tracked(sqlite_store)) == 1


async def test_a_change_whose_webhook_never_came_is_caught_by_the_reconciling_poll(
    sandbox: Sandbox, sqlite_store: Store, start: Start
) -> None:
    endpoint = await start("note_created")
    await endpoint.triggers.poll("hook")
    made = sandbox.create("note", 1)  # no endpoint subscribed: nothing is pushed

    assert await endpoint.triggers.poll("hook") == 1

    (event,) = await tracked(sqlite_store)
    assert (event["properties"]["id"], event["properties"]["via"]) == (made[0], "poll")


async def test_a_forged_or_missing_signature_is_refused_and_counted(
    sandbox: Sandbox, sqlite_store: Store, start: Start
) -> None:
    endpoint = await start("note_created")
    body = json.dumps({"event": "note.created", "data": {"id": "n1", "created_at": "x"}}).encode()
    bad, missing = counted("bad_signature"), counted("missing_signature")

    async with httpx.AsyncClient() as client:
        forged = await client.post(
            endpoint.hook,
            content=body,
            headers={"X-Custify-Signature": signature(body, "not-the-secret")},
        )
        unsigned = await client.post(endpoint.hook, content=body)

    for answer, why in ((forged, "does not match"), (unsigned, "missing signature header")):
        assert answer.status_code == 401
        assert answer.json()["field"] == "X-Custify-Signature"
        assert answer.json()["rule"] == "signature"
        assert why in answer.json()["error"]
    assert (counted("bad_signature"), counted("missing_signature")) == (bad + 1, missing + 1)
    assert SECRET not in forged.text + unsigned.text
    assert await tracked(sqlite_store) == []


async def test_custify_retries_a_refused_delivery_5_times_then_gives_up(
    sandbox: Sandbox, sqlite_store: Store, start: Start
) -> None:
    endpoint = await start("note_created")
    subscribe(sandbox, endpoint.hook, ["note.created"], secret="a-stale-secret")

    sandbox.create("note", 1)

    async def given_up() -> bool:
        return any("delivered" in d for d in deliveries(sandbox))

    await until(given_up, "the sandbox to give up")
    (delivery,) = deliveries(sandbox)
    assert delivery["statuses"] == [401] * 6 and delivery["delivered"] is False
    assert await tracked(sqlite_store) == []


async def test_a_duplicate_delivery_is_absorbed(
    sandbox: Sandbox, sqlite_store: Store, start: Start
) -> None:
    endpoint = await start("task_created")
    record = {"id": "t1", "name": "call", "created_at": "2026-01-01T00:00:00.000Z"}
    body = json.dumps({"id": "dl1", "event": "task.created", "data": record}).encode()
    headers = {"X-Custify-Signature": f"sha256={signature(body)}"}
    duplicates = counted("duplicate")

    async with httpx.AsyncClient() as client:
        first = await client.post(endpoint.hook, content=body, headers=headers)
        again = await client.post(endpoint.hook, content=body, headers=headers)

    assert (first.status_code, first.json()) == (200, {"accepted": "t1"})
    assert (again.status_code, again.json()) == (200, {"duplicate": "t1"})
    assert counted("duplicate") == duplicates + 1
    assert [e["properties"]["id"] for e in await tracked(sqlite_store)] == ["t1"]


async def test_a_delivery_csroute_could_not_hand_on_is_retried_by_custify(
    sandbox: Sandbox, sqlite_store: Store, start: Start
) -> None:
    receiver = Receiver(lambda n, _body: "500" if n == 0 else None)
    with ServerThread(receiver) as downstream:
        endpoint = await start("note_created", track=None, webhook=downstream.url)
        subscribe(sandbox, endpoint.hook, ["note.created"])
        made = sandbox.create("note", 1)

        async def delivered() -> bool:
            return any(d.get("delivered") for d in deliveries(sandbox))

        await until(delivered, "the retried delivery")

    (delivery,) = deliveries(sandbox)
    assert delivery["statuses"] == [503, 200]
    assert [body["id"] for body in receiver.bodies] == made


async def test_another_event_or_a_malformed_body_is_not_handed_on(
    sandbox: Sandbox, sqlite_store: Store, start: Start
) -> None:
    endpoint = await start("note_created")
    other = json.dumps({"event": "note.updated", "data": {"id": "n1"}}).encode()
    broken = b'{"event": '
    no_stamp = json.dumps({"event": "note.created", "data": {"id": "n1"}}).encode()

    async with httpx.AsyncClient() as client:
        answers = [
            await client.post(
                endpoint.hook, content=b, headers={"X-Custify-Signature": signature(b)}
            )
            for b in (other, broken, no_stamp)
        ]
        unknown = await client.post(f"{endpoint.url}/triggers/nope/webhook", content=other)

    assert [a.status_code for a in answers] == [200, 400, 400]
    assert "ignored" in answers[0].json()
    assert (answers[1].json()["field"], answers[1].json()["rule"]) == ("", "json")
    assert answers[2].json() == {
        "error": "data must be a record with id and created_at",
        "field": "data",
        "rule": "record",
    }
    assert unknown.status_code == 404
    assert (unknown.json()["field"], unknown.json()["rule"]) == ("name", "not_found")
    assert await tracked(sqlite_store) == []


async def test_a_wrong_method_a_huge_body_or_one_that_never_completes_is_refused(
    sandbox: Sandbox, sqlite_store: Store, start: Start
) -> None:
    endpoint = await start("note_created", body_timeout_s=0.2)
    async with httpx.AsyncClient() as client:
        get = await client.get(endpoint.hook)
        huge = await client.post(endpoint.hook, content=b"x" * (1024 * 1024 + 1))

    assert get.status_code == 405 and get.headers["allow"] == "POST"
    assert (get.json()["field"], get.json()["rule"]) == ("", "method")
    assert huge.status_code == 413
    assert (huge.json()["field"], huge.json()["rule"]) == ("", "max_body_bytes")

    port = int(endpoint.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /triggers/hook/webhook HTTP/1.1\r\nHost: x\r\n")
    writer.write(b'Content-Length: 100\r\n\r\n{"event":')  # promises 100 bytes, sends 9
    response = await reader.read()  # until the server closes the connection
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body)["rule"] == "body_timeout"
    assert await tracked(sqlite_store) == []
