"""Live capture in-process: bounded rings, sampling, masking, and viewers that never slow
delivery (the router against a real SQLite store and a real HTTP receiver on loopback)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from csroute.capture.live import VIEWER_QUEUE, Capture, Filter
from csroute.config import CaptureConfig
from csroute.events.model import NewEvent
from csroute.router.ratelimit import Limiters
from csroute.router.router import Router
from csroute.store.sqlite import SQLiteStore
from support.pipeline import append, event, make_config, wait_until
from support.receiver import Receiver
from support.servers import ServerThread

HOOK_TOKEN = "hook-secret-token-0003"
WRITE_KEY = "web-write-key-123"  # make_config's key for source "web"


def new_event(user: str, **fields: Any) -> NewEvent:
    payload = msgspec.json.encode({"type": "track", "userId": user, "event": "Tested", **fields})
    return NewEvent("web", user, "track", payload)


def test_ring_stays_bounded_under_a_flood_and_a_full_viewer_is_told_what_it_missed() -> None:
    capture = Capture(CaptureConfig(ring_size=50, max_per_s=1e9))
    with capture.watch(Filter()) as viewer:
        for n in range(VIEWER_QUEUE + 4000):
            capture.received("web", [new_event(f"u{n}")])
        recent = capture.recent(Filter())
        assert [r["user"] for r in recent] == [
            f"u{n}" for n in range(VIEWER_QUEUE + 3950, VIEWER_QUEUE + 4000)
        ]
        assert viewer.queue.qsize() == VIEWER_QUEUE

        async def drain() -> list[dict[str, Any]]:
            return [await viewer.next() for _ in range(VIEWER_QUEUE + 1)]

        got = asyncio.run(drain())
    assert [r["user"] for r in got[:VIEWER_QUEUE]] == [f"u{n}" for n in range(VIEWER_QUEUE)]
    assert got[-1]["kind"] == "dropped" and got[-1]["count"] == 4000
    assert not capture.watching


def test_records_a_second_are_bounded_and_skips_are_counted(monkeypatch: Any) -> None:
    clock = [1000.0]
    monkeypatch.setattr("csroute.capture.live.time.monotonic", lambda: clock[0])
    capture = Capture(CaptureConfig(max_per_s=10))
    with capture.watch(Filter()):
        capture.received("web", [new_event(f"u{n}") for n in range(1000)])
        assert len(capture.recent(Filter())) == 10  # the burst; the clock has not moved
        clock[0] += 1.0
        capture.received("web", [new_event("later")])
    last = capture.recent(Filter())[-1]
    assert (last["user"], last["skipped_before"]) == ("later", 990)


def test_only_what_some_viewer_may_want_is_recorded() -> None:
    capture = Capture()
    with capture.watch(Filter(user="u1")) as viewer, capture.watch(Filter(type="identify")):
        capture.received("web", [new_event(f"u{n}") for n in range(100)])
        assert [r["user"] for r in capture.recent(Filter())] == ["u1"]
        assert viewer.queue.qsize() == 1


def test_filters_and_sampling_by_user() -> None:
    # A budget far above the flood: only sampling decides here (the budget has its own test).
    capture = Capture(CaptureConfig(sample_rate=0.5, max_per_s=1_000_000))
    with capture.watch(Filter()):
        for n in range(200):
            capture.received("web", [new_event(f"u{n}"), new_event(f"u{n}")])
    users = [r["user"] for r in capture.recent(Filter())]
    assert 0 < len(set(users)) < 200
    assert all(users.count(u) == 2 for u in users)  # a sampled user's events are all there
    one = next(iter(users))
    assert {r["user"] for r in capture.recent(Filter(user=one))} == {one}
    assert capture.recent(Filter(source="other")) == []
    assert capture.recent(Filter(outcome="delivered")) == []


def test_received_events_are_masked_before_capture() -> None:
    config = make_config(
        [{"name": "hook", "type": "webhook", "settings": {"url": "http://127.0.0.1:9/"}}],
        capture={"mask_fields": ["email"]},
    )
    capture = Capture.for_config(config)
    secret_event = new_event(
        "u1", properties={"note": f"key {WRITE_KEY}"}, traits={"Email": "ann@example.com"}
    )
    with capture.watch(Filter()):
        capture.received("web", [secret_event])
    shown = msgspec.json.encode(capture.recent(Filter())).decode()
    assert WRITE_KEY not in shown and "ann@example.com" not in shown
    assert "key we…23" in shown  # masked, still telling which key it was


async def test_router_reports_each_outcome_with_masked_requests(
    sqlite_store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Request 0 fails with 500 (retried); user "bad" is refused with 400 (dead-lettered).
    receiver = Receiver(
        lambda n, body: "500" if n == 0 else ("400" if body["userId"] == "bad" else None)
    )
    with ServerThread(receiver) as server:
        hook = {
            "name": "hook",
            "type": "webhook",
            "settings": {"url": server.url, "headers": {"Authorization": f"Bearer {HOOK_TOKEN}"}},
        }
        config = make_config([hook], delivery={"concurrency": 1})  # one failure trips the breaker
        capture = Capture.for_config(config)
        router = Router(config, sqlite_store, Limiters(), capture=capture)
        with capture.watch(Filter(destination="hook")) as viewer:
            await append(sqlite_store, [event("good", 0)])
            router.start()
            try:
                await wait_until(lambda: len(receiver.accepted) == 1)
                await append(sqlite_store, [event("bad", 0)])
                router.wake()
                await wait_until(lambda: viewer.queue.qsize() == 3)
            finally:
                await router.stop()
    records = [viewer.queue.get_nowait() for _ in range(3)]
    shown = msgspec.json.encode(records).decode()
    assert HOOK_TOKEN not in shown
    first, second, third = records
    assert (first["user"], first["outcome"], first["attempt"], first["status"]) == (
        "good",
        "retrying",
        1,
        500,
    )
    assert "HTTP 500" in first["reason"]
    # the log says why the destination is paused, not only that it is
    (paused,) = [r for r in caplog.records if r.getMessage().startswith("destination failing")]
    assert paused.reason == first["reason"]  # type: ignore[attr-defined]
    assert (second["user"], second["outcome"], second["status"]) == ("good", "delivered", 200)
    assert second["attempt"] == 2 and second["latency_ms"] is not None
    assert second["requests"][0]["headers"]["Authorization"] == "Bearer ho…03"
    assert second["requests"][0]["body"]["userId"] == "good"
    assert second["response"] == '{"ok": true}'
    assert (third["user"], third["outcome"], third["status"]) == ("bad", "dead-lettered", 400)
    assert "HTTP 400" in third["reason"] and "injected" in third["response"]


async def test_a_slow_viewer_never_delays_delivery(sqlite_store: SQLiteStore) -> None:
    receiver = Receiver()
    events = VIEWER_QUEUE + 500
    with ServerThread(receiver) as server:
        hook = {"name": "hook", "type": "webhook", "settings": {"url": server.url}}
        config = make_config([hook], delivery={"batch_size": 100}, capture={"max_per_s": 1_000_000})
        capture = Capture.for_config(config)
        router = Router(config, sqlite_store, Limiters(), capture=capture)
        barrier = asyncio.Event()
        seen: list[dict[str, Any]] = []

        async def slow_viewer() -> None:
            with capture.watch(Filter()) as viewer:
                await barrier.wait()  # reads nothing until the deliveries are done
                while not seen or seen[-1]["kind"] != "dropped":
                    seen.append(await viewer.next())

        watching = asyncio.create_task(slow_viewer())
        await wait_until(lambda: capture.watching)
        with_absent = capture.watch(Filter(user="nobody-reads-this"))
        with with_absent:  # a second viewer that never reads at all
            await append(sqlite_store, [event(f"u{n % 50}", n // 50) for n in range(events)])
            router.start()
            try:
                await wait_until(lambda: len(receiver.accepted) == events)
            finally:
                await router.stop()
        assert seen == []  # every event was delivered while the viewer read nothing
        barrier.set()
        await watching
    assert len(seen) == VIEWER_QUEUE + 1
    assert all(r["outcome"] == "delivered" for r in seen[:-1])
    assert seen[-1]["count"] == 500
    assert not capture.watching
