"""The router against the in-memory store and a real HTTP receiver on loopback.

The store's own rules are checked on every backend by the store conformance suite, so these
tests use the fastest one; the end-to-end tests run the same paths on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import msgspec
import pytest

from csroute.router.ratelimit import Limiters
from csroute.router.router import Router
from csroute.store.base import Store, StoreUnavailable
from csroute.store.sqlite import SQLiteStore
from support.pipeline import append, event, make_config, wait_until
from support.receiver import Receiver
from support.servers import ServerThread


def webhook(url: str, name: str = "hook", **settings: Any) -> dict[str, Any]:
    return {"name": name, "type": "webhook", "settings": {"url": url, **settings}}


def assert_in_order(receiver: Receiver, sent: dict[str, int]) -> None:
    """Every user's events arrived exactly once each, in the order they were sent."""
    got = receiver.by_user()
    assert set(got) == set(sent)
    for user, count in sent.items():
        assert [e["properties"]["n"] for e in got[user]] == list(range(count)), user


async def run_until(router: Router, condition: Any, timeout: float = 60.0) -> None:
    router.start()
    try:
        await wait_until(condition, timeout)
    finally:
        await router.stop()


@pytest.mark.parametrize("batch_size", [1, 50])
async def test_delivers_every_event_in_order_per_user(store: Store, batch_size: int) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url, batch_size=batch_size)])
        sent = {f"u{i}": 30 for i in range(20)}
        await append(store, [event(u, n) for n in range(30) for u in sent])
        router = Router(config, store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) >= 600)
    assert_in_order(receiver, sent)
    stats = await store.stats("hook", ["web"])
    assert (stats.delivered, stats.backlog, stats.retrying, stats.held) == (600, 0, 0, 0)


@pytest.mark.parametrize("batch_size", [1, 10])
async def test_flaky_receiver_loses_nothing_and_keeps_order(store: Store, batch_size: int) -> None:
    rng = random.Random(7)
    faults = ["500", "429", "timeout", "drop"]

    def plan(_n: int, _body: Any) -> str | None:
        return rng.choice(faults) if rng.random() < 0.4 else None

    receiver = Receiver(plan, retry_after="0", timeout_s=0.6)
    with ServerThread(receiver) as server:
        config = make_config(
            [webhook(server.url, batch_size=batch_size, timeout_s=0.3)],
            delivery={"concurrency": 4},
        )
        sent = {f"u{i}": 25 for i in range(12)}
        await append(store, [event(u, n) for n in range(25) for u in sent])
        router = Router(config, store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) >= 300, timeout=120)
    assert_in_order(receiver, sent)
    assert all(receiver.statuses[f] > 0 for f in faults), receiver.statuses
    stats = await store.stats("hook", ["web"])
    assert stats.dead == 0 and stats.retrying == 0 and stats.held == 0


async def test_a_failing_user_holds_back_only_their_own_events(
    store: Store,
) -> None:
    broken = {"on": True}
    receiver = Receiver(
        lambda _n, body: "503" if broken["on"] and body["userId"] == "bad" else None
    )
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url)])
        await append(store, [event(u, n) for n in range(10) for u in ("good", "bad")])
        router = Router(config, store, Limiters())
        router.start()
        try:
            await wait_until(lambda: len(receiver.by_user().get("good", [])) == 10)
            await wait_until(lambda: _parked(store, retrying=1, held=9))
            assert "bad" not in receiver.by_user()
            broken["on"] = False
            await wait_until(lambda: len(receiver.by_user().get("bad", [])) == 10)
        finally:
            await router.stop()
    assert_in_order(receiver, {"good": 10, "bad": 10})


async def _parked(store: Store, *, retrying: int, held: int) -> bool:
    stats = await store.stats("hook", ["web"])
    return stats.retrying == retrying and stats.held == held


async def test_client_errors_are_dead_lettered_at_once_with_evidence_and_can_be_replayed(
    store: Store,
) -> None:
    rejecting = {"on": True}
    receiver = Receiver(lambda _n, _body: "400" if rejecting["on"] else None)
    with ServerThread(receiver) as server:
        config = make_config(
            [webhook(server.url, headers={"Authorization": "Bearer super-secret-token-42"})]
        )
        await append(store, [event("u1", 0), event("u1", 1)])
        router = Router(config, store, Limiters())
        await run_until(router, lambda: receiver.statuses["400"] >= 2)
        await wait_until(lambda: _dead_count(store, 2))
        letters = await store.dead_letters("hook")
        assert [d.attempts for d in letters] == [1, 1]
        shown = await store.dead_letter(letters[0].id)
        assert shown is not None and shown.status == 400
        assert shown.error.startswith("HTTP 400")
        assert b"injected" in (shown.response or b"")
        assert shown.request is not None and b"super-secret-token-42" not in shown.request
        assert msgspec.json.decode(shown.payload)["properties"] == {"n": 0}

        rejecting["on"] = False
        assert await store.replay([d.id for d in letters], 0.0) == 2
        router = Router(config, store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) == 2)
    assert_in_order(receiver, {"u1": 2})
    assert await store.dead_letters("hook") == []


async def _dead_count(store: Store, n: int) -> bool:
    return (await store.stats("hook", ["web"])).dead >= n


async def test_retries_give_up_after_attempts_and_age(store: Store) -> None:
    receiver = Receiver(lambda _n, _body: "500")
    with ServerThread(receiver) as server:
        config = make_config(
            [webhook(server.url)], delivery={"max_attempts": 3, "max_retry_age_s": 0}
        )
        await append(store, [event("u1", 0), event("u1", 1)])
        router = Router(config, store, Limiters())
        await run_until(router, lambda: _dead_count(store, 2))
    letters = await store.dead_letters("hook")
    assert [d.attempts for d in letters] == [3, 3]
    assert letters[0].error.startswith("gave up after 3 attempts: HTTP 500")
    assert receiver.statuses["500"] == 6


async def test_filters_count_what_they_drop_with_the_reason(store: Store) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as server:
        destination = webhook(server.url)
        destination["filters"] = {"event_types": {"deny": ["page"]}, "events": {"deny": ["Secret"]}}
        config = make_config([destination])
        await append(
            store,
            [
                event("u1", 0),
                event("u1", 1, type="page", name="Home"),
                event("u1", 2, event="Secret"),
                event("u1", 3),
            ],
        )
        router = Router(config, store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) == 2)
        await wait_until(lambda: _stats_settled(store, 4))
    assert [e["properties"]["n"] for e in receiver.accepted] == [0, 3]
    stats = await store.stats("hook", ["web"])
    assert stats.filtered == 2
    assert dict(stats.filtered_by_reason) == {
        "event_type: 'page' not allowed": 1,
        "event_name: 'Secret' not allowed": 1,
    }


async def _stats_settled(store: Store, n: int) -> bool:
    s = await store.stats("hook", ["web"])
    return s.delivered + s.filtered + s.rejected + s.dead >= n


async def test_a_down_destination_does_not_slow_another(store: Store) -> None:
    healthy = Receiver()
    with ServerThread(healthy) as server:
        config = make_config(
            [
                webhook(server.url, name="healthy"),
                webhook("http://127.0.0.1:9/nothing-listens-here", name="down", timeout_s=0.2),
            ]
        )
        await append(store, [event(f"u{i}", n) for n in range(20) for i in range(50)])
        router = Router(config, store, Limiters())
        await run_until(router, lambda: len(healthy.accepted) == 1000)
        down = await store.stats("down", ["web"])
    # The breaker parked at most about one page for the outage instead of the whole log.
    assert down.delivered == 0
    assert down.retrying + down.held <= 1000
    assert down.backlog + down.retrying + down.held == 1000


async def test_events_every_destination_is_done_with_are_pruned(tmp_path: Any) -> None:
    import sqlite3

    store = await SQLiteStore.open(tmp_path / "events.db")
    receiver = Receiver(lambda n, _body: "400" if n == 0 else None)
    try:
        with ServerThread(receiver) as server:
            config = make_config([webhook(server.url)], store={"prune_interval_s": 0.05})
            await append(store, [event("u1", n) for n in range(50)])
            router = Router(config, store, Limiters())

            def logged() -> int:
                with sqlite3.connect(tmp_path / "events.db") as db:
                    return int(db.execute("SELECT count(*) FROM events").fetchone()[0])

            await run_until(router, lambda: len(receiver.accepted) == 49 and logged() == 1)
    finally:
        await store.close()
    # The one event kept is the dead letter's: it must stay replayable.
    assert [d.seq for d in await _letters(tmp_path)] == [1]


async def _letters(tmp_path: Any) -> list[Any]:
    store = await SQLiteStore.open(tmp_path / "events.db")
    try:
        return await store.dead_letters("hook")
    finally:
        await store.close()


async def test_a_forgotten_users_logged_events_are_not_delivered(store: Store) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url)])
        await append(store, [event(u, n) for n in range(3) for u in ("keep", "gone")])
        assert await store.forget("hook", "gone", 0.0) == 0
        await append(store, [event("gone", 3)])  # logged after the request: delivered
        router = Router(config, store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) == 4)
        await wait_until(lambda: _stats_settled(store, 7))
    got = receiver.by_user()
    assert [e["properties"]["n"] for e in got["keep"]] == [0, 1, 2]
    assert [e["properties"]["n"] for e in got["gone"]] == [3]
    stats = await store.stats("hook", ["web"])
    assert stats.filtered_by_reason == {"forgotten: user deletion requested": 3}


async def test_progress_is_recorded_while_a_rate_limited_page_is_under_way(
    store: Store,
) -> None:
    """At 4 requests/s a 1,000-event page would record nothing for minutes; outcomes are
    committed as they are decided instead: here, while the 21st request is held."""
    receiver = Receiver(lambda n, _body: "hold" if n == 20 else None)
    with ServerThread(receiver) as server:
        config = make_config(
            [webhook(server.url, rate_limit_per_s=4, timeout_s=600)], delivery={"concurrency": 1}
        )
        await append(store, [event("u1", n) for n in range(40)])
        router = Router(config, store, Limiters())
        router.start()
        try:
            await wait_until(lambda: receiver.holding == 1)
            await wait_until(lambda: _delivered(store, 20))
            assert len(receiver.accepted) == 20
            receiver.release()
            await wait_until(lambda: _delivered(store, 40))
        finally:
            await router.stop()
    assert_in_order(receiver, {"u1": 40})


async def _delivered(store: Store, n: int) -> bool:
    return (await store.stats("hook", ["web"])).delivered == n


async def test_a_slow_user_holds_back_only_their_own_events(store: Store) -> None:
    """While one user's request hangs, everybody else's events are delivered and recorded (the
    cursor moves past them); the slow user's later events are parked behind it, in order."""
    receiver = Receiver(lambda _n, body: "hold" if body["userId"] == "slow" else None)
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url, timeout_s=600)])
        sent = {f"u{i}": 10 for i in range(10)}
        await append(store, [event(u, n) for n in range(10) for u in [*sent, "slow"]])
        router = Router(config, store, Limiters())
        router.start()
        try:
            await wait_until(lambda: _delivered(store, 100))
            await wait_until(lambda: _parked(store, retrying=1, held=9))
            assert receiver.holding == 1 and "slow" not in receiver.by_user()
            stats = await store.stats("hook", ["web"])
            assert stats.backlog == 0  # the cursor is past every event
            receiver.release()
            await wait_until(lambda: _delivered(store, 110))
        finally:
            await router.stop()
    assert_in_order(receiver, {**sent, "slow": 10})
    stats = await store.stats("hook", ["web"])
    assert (stats.retrying, stats.held, stats.dead) == (0, 0, 0)


@pytest.mark.parametrize("batch_size", [10, 20])
async def test_one_refused_event_in_a_batch_is_the_only_one_dead_lettered(
    store: Store, batch_size: int
) -> None:
    def refuse_the_bad_one(_n: int, body: Any) -> str | None:
        events = body if isinstance(body, list) else [body]
        return "400" if any(e["properties"].get("bad") for e in events) else None

    receiver = Receiver(refuse_the_bad_one)
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url, batch_size=batch_size)])
        sent = {f"u{i}": 4 for i in range(5)}
        events = [event(u, n) for n in range(4) for u in sent]
        events[13]["properties"]["bad"] = True
        await append(store, events)
        router = Router(config, store, Limiters())
        await run_until(router, lambda: _stats_settled(store, 20))
    letters = await store.dead_letters("hook")
    assert len(letters) == 1 and letters[0].status == 400
    assert msgspec.json.decode(letters[0].payload)["properties"] == {"n": 2, "bad": True}
    got = receiver.by_user()
    assert {u: [e["properties"]["n"] for e in got[u]] for u in sent} == {
        u: [0, 1, 3] if u == "u3" else [0, 1, 2, 3] for u in sent
    }
    stats = await store.stats("hook", ["web"])
    assert (stats.delivered, stats.dead, stats.retrying, stats.held) == (19, 1, 0, 0)


async def test_while_outcomes_cannot_be_recorded_nothing_is_sent_twice(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is part of the breaker: a store that cannot commit (a full disk) stops new
    sends; what was sent is recorded once it can, so no event is sent again."""
    full = {"on": False, "refused": 0, "sent_by_then": 0}

    def fill_the_disk(n: int, _body: Any) -> None:
        if n == 29:  # the disk fills up mid-delivery
            full["on"] = True

    receiver = Receiver(fill_the_disk)
    record = store.record

    async def record_unless_full(outcome: Any) -> set[str]:
        if full["on"]:
            if not full["refused"]:
                full["sent_by_then"] = receiver.requests
            full["refused"] += 1
            raise StoreUnavailable("database or disk is full")
        return await record(outcome)

    monkeypatch.setattr(store, "record", record_unless_full)
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url)], delivery={"page_size": 50})
        sent = {f"u{i}": 40 for i in range(30)}
        await append(store, [event(u, n) for n in range(40) for u in sent])
        router = Router(config, store, Limiters())
        router.start()
        try:
            await wait_until(lambda: full["refused"] >= 3)
            # Sending stopped at the first refusal: nothing was read after it, so at most the
            # deliveries already started (a read-ahead of 50 events) went out.
            stopped_at = full["sent_by_then"] + 50
            assert receiver.requests <= stopped_at < 1200
            await wait_until(lambda: full["refused"] >= 6)
            assert receiver.requests <= stopped_at
            full["on"] = False
            await wait_until(lambda: _delivered(store, 1200))
        finally:
            await router.stop()
    per_event = Counter(e["messageId"] for e in receiver.accepted)
    assert len(per_event) == 1200
    assert max(per_event.values()) == 1  # at most one extra send is allowed; none was needed
    assert_in_order(receiver, sent)
