"""A worker whose lease was taken over while it stalled: it sends nothing more, records nothing,
says so once, and stops; the new holder finds the partition as the store last had it."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from csroute.router.lease import Lease
from csroute.router.ratelimit import Limiters
from csroute.router.router import Router
from csroute.store.base import WHOLE, Store
from csroute.store.sqlite import SQLiteStore
from router.test_delivery import _delivered, assert_in_order, webhook
from support.pipeline import append, event, make_config, wait_until
from support.receiver import Receiver
from support.servers import ServerThread

TTL = 60.0
STOPPED = ("partition taken over by another worker", "lost partition lease")


async def test_a_worker_whose_lease_was_taken_over_stops_without_recording(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    # The request held stays in flight however long the test takes (it is not parked).
    monkeypatch.setattr("csroute.router.worker.PARK_AFTER_S", 3600.0)
    receiver = Receiver(lambda n, _body: "hold" if n == 0 else None)
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url, timeout_s=600)], delivery={"concurrency": 1})
        await append(store, [event(f"u{i % 5}", i // 5) for i in range(10)])
        mine = await store.lease("hook", 1, "a", time.time(), TTL)
        lease = Lease(mine.tokens[0], TTL, time.monotonic())
        worker = Router(config, store, Limiters()).shares["hook"].make_worker(WHOLE, lease)
        running = asyncio.create_task(worker.run(asyncio.Event()))
        try:
            await wait_until(lambda: receiver.holding == 1)
            # The worker stalls past its lease with its first request out (as if frozen), and
            # another worker takes the partition over meanwhile.
            lease.renewed_at = time.monotonic() - TTL
            theirs = await store.lease("hook", 1, "b", time.time() + TTL + 1, TTL)
            assert theirs.tokens[0] > lease.token
            with caplog.at_level(logging.WARNING, logger="csroute.router"):
                receiver.release()  # the request in flight completes: the worker records it
                await asyncio.wait_for(running, 30)
        finally:
            running.cancel()
    # The one request in flight reached the receiver; nothing after it did.
    assert [b["properties"]["n"] for b in receiver.bodies] == [0]
    assert receiver.requests == 1
    taken = [r for r in caplog.records if "taken over by another worker" in r.getMessage()]
    assert len(taken) == 1
    # Nothing was recorded: the new holder starts from the very first event.
    stats = await store.stats("hook", ["web"])
    assert (stats.delivered, stats.retrying, stats.held, stats.dead) == (0, 0, 0, 0)
    page = await store.read_new("hook", ["web"], 100)
    assert len(page.events) == 10


async def test_a_share_whose_lease_changed_hands_goes_on_under_a_new_token(
    sqlite_store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite hands the destination to the newest worker at once. When another worker took it
    and it came back, the worker started under the old token is replaced by one under the new
    token, which delivers what follows, once."""
    store = sqlite_store
    receiver = Receiver()
    with ServerThread(receiver) as server:
        config = make_config([webhook(server.url)])
        await append(store, [event("u", n) for n in range(5)])
        router = Router(config, store, Limiters())
        share = router.shares["hook"]
        with caplog.at_level(logging.WARNING, logger="csroute.router"):
            router.start()
            try:
                await wait_until(lambda: _delivered(store, 5))
                (first,) = share.running.values()
                theirs = await store.lease("hook", 1, "another worker", time.time(), TTL)
                assert theirs.tokens[0] == first.lease.token + 1
                await wait_until(
                    lambda: (
                        [r.lease.token for r in share.running.values()] == [first.lease.token + 2]
                    )
                )
                await append(store, [event("u", n) for n in range(5, 10)])
                await wait_until(lambda: _delivered(store, 10))
            finally:
                await router.stop()
    assert_in_order(receiver, {"u": 10})
    stopped = [m for r in caplog.records for m in STOPPED if m in r.getMessage()]
    assert len(stopped) == 1
