"""The router against a real SQLite store and a real HTTP receiver on loopback."""

from __future__ import annotations

import random
from typing import Any

import msgspec
import pytest

from csroute.router.ratelimit import Limiters
from csroute.router.router import Router
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
async def test_delivers_every_event_in_order_per_user(
    sqlite_store: SQLiteStore, batch_size: int
) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url, batch_size=batch_size)])
        sent = {f"u{i}": 30 for i in range(20)}
        await append(sqlite_store, [event(u, n) for n in range(30) for u in sent])
        router = Router(config, sqlite_store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) >= 600)
    assert_in_order(receiver, sent)
    stats = await sqlite_store.stats("hook", ["web"])
    assert (stats.delivered, stats.backlog, stats.retrying, stats.held) == (600, 0, 0, 0)


@pytest.mark.parametrize("batch_size", [1, 10])
async def test_flaky_receiver_loses_nothing_and_keeps_order(
    sqlite_store: SQLiteStore, batch_size: int
) -> None:
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
        await append(sqlite_store, [event(u, n) for n in range(25) for u in sent])
        router = Router(config, sqlite_store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) >= 300, timeout=120)
    assert_in_order(receiver, sent)
    assert all(receiver.statuses[f] > 0 for f in faults), receiver.statuses
    stats = await sqlite_store.stats("hook", ["web"])
    assert stats.dead == 0 and stats.retrying == 0 and stats.held == 0


async def test_a_failing_user_holds_back_only_their_own_events(
    sqlite_store: SQLiteStore,
) -> None:
    broken = {"on": True}
    receiver = Receiver(
        lambda _n, body: "503" if broken["on"] and body["userId"] == "bad" else None
    )
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url)])
        await append(sqlite_store, [event(u, n) for n in range(10) for u in ("good", "bad")])
        router = Router(config, sqlite_store, Limiters())
        router.start()
        try:
            await wait_until(lambda: len(receiver.by_user().get("good", [])) == 10)
            await wait_until(lambda: _parked(sqlite_store, retrying=1, held=9))
            assert "bad" not in receiver.by_user()
            broken["on"] = False
            await wait_until(lambda: len(receiver.by_user().get("bad", [])) == 10)
        finally:
            await router.stop()
    assert_in_order(receiver, {"good": 10, "bad": 10})


async def _parked(store: SQLiteStore, *, retrying: int, held: int) -> bool:
    stats = await store.stats("hook", ["web"])
    return stats.retrying == retrying and stats.held == held


async def test_client_errors_are_dead_lettered_at_once_with_evidence_and_can_be_replayed(
    sqlite_store: SQLiteStore,
) -> None:
    rejecting = {"on": True}
    receiver = Receiver(lambda _n, _body: "400" if rejecting["on"] else None)
    with ServerThread(receiver) as server:
        config = make_config(
            [webhook(server.url, headers={"Authorization": "Bearer super-secret-token-42"})]
        )
        await append(sqlite_store, [event("u1", 0), event("u1", 1)])
        router = Router(config, sqlite_store, Limiters())
        await run_until(router, lambda: receiver.statuses["400"] >= 2)
        await wait_until(lambda: _dead_count(sqlite_store, 2))
        letters = await sqlite_store.dead_letters("hook")
        assert [d.attempts for d in letters] == [1, 1]
        shown = await sqlite_store.dead_letter(letters[0].id)
        assert shown is not None and shown.status == 400
        assert shown.error.startswith("HTTP 400")
        assert b"injected" in (shown.response or b"")
        assert shown.request is not None and b"super-secret-token-42" not in shown.request
        assert msgspec.json.decode(shown.payload)["properties"] == {"n": 0}

        rejecting["on"] = False
        assert await sqlite_store.replay([d.id for d in letters], 0.0) == 2
        router = Router(config, sqlite_store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) == 2)
    assert_in_order(receiver, {"u1": 2})
    assert await sqlite_store.dead_letters("hook") == []


async def _dead_count(store: SQLiteStore, n: int) -> bool:
    return (await store.stats("hook", ["web"])).dead >= n


async def test_retries_give_up_after_attempts_and_age(sqlite_store: SQLiteStore) -> None:
    receiver = Receiver(lambda _n, _body: "500")
    with ServerThread(receiver) as server:
        config = make_config(
            [webhook(server.url)], delivery={"max_attempts": 3, "max_retry_age_s": 0}
        )
        await append(sqlite_store, [event("u1", 0), event("u1", 1)])
        router = Router(config, sqlite_store, Limiters())
        await run_until(router, lambda: _dead_count(sqlite_store, 2))
    letters = await sqlite_store.dead_letters("hook")
    assert [d.attempts for d in letters] == [3, 3]
    assert letters[0].error.startswith("gave up after 3 attempts: HTTP 500")
    assert receiver.statuses["500"] == 6


async def test_filters_count_what_they_drop_with_the_reason(sqlite_store: SQLiteStore) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as server:
        destination = webhook(server.url)
        destination["filters"] = {"event_types": {"deny": ["page"]}, "events": {"deny": ["Secret"]}}
        config = make_config([destination])
        await append(
            sqlite_store,
            [
                event("u1", 0),
                event("u1", 1, type="page", name="Home"),
                event("u1", 2, event="Secret"),
                event("u1", 3),
            ],
        )
        router = Router(config, sqlite_store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) == 2)
        await wait_until(lambda: _stats_settled(sqlite_store, 4))
    assert [e["properties"]["n"] for e in receiver.accepted] == [0, 3]
    stats = await sqlite_store.stats("hook", ["web"])
    assert stats.filtered == 2
    assert dict(stats.filtered_by_reason) == {
        "event_type: 'page' not allowed": 1,
        "event_name: 'Secret' not allowed": 1,
    }


async def _stats_settled(store: SQLiteStore, n: int) -> bool:
    s = await store.stats("hook", ["web"])
    return s.delivered + s.filtered + s.rejected + s.dead >= n


async def test_a_down_destination_does_not_slow_another(sqlite_store: SQLiteStore) -> None:
    healthy = Receiver()
    with ServerThread(healthy) as server:
        config = make_config(
            [
                webhook(server.url, name="healthy"),
                webhook("http://127.0.0.1:9/nothing-listens-here", name="down", timeout_s=0.2),
            ]
        )
        await append(sqlite_store, [event(f"u{i}", n) for n in range(20) for i in range(50)])
        router = Router(config, sqlite_store, Limiters())
        await run_until(router, lambda: len(healthy.accepted) == 1000)
        down = await sqlite_store.stats("down", ["web"])
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


async def test_a_forgotten_users_logged_events_are_not_delivered(sqlite_store: SQLiteStore) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url)])
        await append(sqlite_store, [event(u, n) for n in range(3) for u in ("keep", "gone")])
        assert await sqlite_store.forget("hook", "gone", 0.0) == 0
        await append(sqlite_store, [event("gone", 3)])  # logged after the request: delivered
        router = Router(config, sqlite_store, Limiters())
        await run_until(router, lambda: len(receiver.accepted) == 4)
        await wait_until(lambda: _stats_settled(sqlite_store, 7))
    got = receiver.by_user()
    assert [e["properties"]["n"] for e in got["keep"]] == [0, 1, 2]
    assert [e["properties"]["n"] for e in got["gone"]] == [3]
    stats = await sqlite_store.stats("hook", ["web"])
    assert stats.filtered_by_reason == {"forgotten: user deletion requested": 3}


async def test_rate_limited_rounds_record_progress_every_few_seconds(
    sqlite_store: SQLiteStore,
) -> None:
    """At 4 requests/s a 1,000-event page would record nothing for minutes; rounds are sized
    to about 5 s of the limit (20 events) instead."""
    receiver = Receiver()
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url, rate_limit_per_s=4)], delivery={"concurrency": 1})
        await append(sqlite_store, [event("u1", n) for n in range(40)])
        router = Router(config, sqlite_store, Limiters())
        router.start()
        try:
            await wait_until(lambda: len(receiver.accepted) >= 25)
            delivered = (await sqlite_store.stats("hook", ["web"])).delivered
        finally:
            await router.stop()
    assert 20 <= delivered < 40  # a round of ~5 s at 4/s, not the whole backlog
