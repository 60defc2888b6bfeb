"""Custify batch outcomes through the real router into the Custify sandbox, over loopback.

An accepted asynchronous ``POST /batch`` leaves its events *sent*; the router reads the batch's
outcome with ``GET /batch/{id}`` and delivers, retries or dead-letters each event by its job's
result, with Custify's reason. The sandbox's ``batch_job_errors`` fault decides which jobs fail.
Checks are paced by a budget: never more than ``BURST + batches / batch_check_every``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from csroute.custify.sandbox import create_app, running
from csroute.events.model import LoggedEvent
from csroute.router.checks import BURST
from csroute.router.ratelimit import Limiters
from csroute.router.router import Router
from csroute.store.base import FORGOTTEN, Round, SentBatch, SentJob
from csroute.store.sqlite import SQLiteStore
from support.held_checks import HeldChecks
from support.pipeline import append, event, make_config, wait_until

BAD_EMAIL = {"field": "email", "value": "bad@x.io", "status": 422, "message": "Invalid email"}
FLAKY = {"field": "user_id", "value": "flaky", "status": 503, "message": "busy", "times": 1}


def identify(user: str, email: str) -> dict[str, Any]:
    return event(user, 0, "identify", traits={"email": email})


def custify(url: str, **settings: Any) -> dict[str, Any]:
    return {
        "name": "custify",
        "type": "custify",
        "settings": {
            "api_key": "sandbox-key",
            "base_url": url,
            "rate_limit_requests": 100_000,
            **settings,
        },
    }


def requests(url: str, method: str, path: str) -> int:
    """How many API requests the sandbox answered with this method on this path (prefix)."""
    log = httpx.get(f"{url}/__sandbox/requests").json()["requests"]
    return sum(1 for r in log if r["method"] == method and r["path"].startswith(path))


async def run_until(store: SQLiteStore, config: Any, done: Any, grace_s: float = 10.0) -> None:
    router = Router(config, store, Limiters())
    router.start()
    try:
        await wait_until(done, timeout=60)
    finally:
        await router.stop(grace_s)


async def send_then_stop_before_the_check(
    store: SQLiteStore, gate: HeldChecks, config: Any, events: int
) -> None:
    """Run a router until the batch is sent and its check is held unanswered, then stop it:
    the check is left in the store, as by a crash."""

    async def sent_and_checking() -> bool:
        return (await store.stats("custify", ["web"])).sent == events and gate.holding.is_set()

    await run_until(store, config, sent_and_checking, grace_s=0.1)


async def test_failed_jobs_are_dead_lettered_or_retried_with_custifys_reason(
    sqlite_store: SQLiteStore,
) -> None:
    users = [identify(f"u{n}", f"u{n}@x.io") for n in range(8)]
    bad = [identify("b1", "bad@x.io"), identify("b2", "bad@x.io")]
    flaky = identify("flaky", "flaky@x.io")
    await append(sqlite_store, [*users[:4], bad[0], flaky, *users[4:], bad[1]])
    gate = HeldChecks(rate_limit=None)
    with running(gate) as url:
        faults = {"batch_job_errors": [BAD_EMAIL, FLAKY]}
        httpx.post(f"{url}/__sandbox/faults", json=faults).raise_for_status()
        config = make_config([custify(url, batch_check_every=1, batch_check_delay_s=0)])

        async def stats() -> Any:
            return await sqlite_store.stats("custify", ["web"])

        await send_then_stop_before_the_check(sqlite_store, gate, config, 11)
        before = await stats()
        assert (before.sent, before.delivered, before.dead, before.retrying) == (11, 0, 0, 0)
        assert requests(url, "POST", "/batch") == 1

        # Another router finds the pending check in the store and settles each event.
        gate.opened.set()
        await run_until(sqlite_store, config, lambda: _settled(stats))
        after = await stats()
        people = httpx.get(f"{url}/__sandbox/state").json()["people"]
        batches_sent = requests(url, "POST", "/batch")

    assert (after.sent, after.delivered, after.unverified) == (0, 9, 0)
    assert (after.dead, after.retrying, after.held) == (2, 0, 0)
    letters = await sqlite_store.dead_letters("custify")
    assert sorted(d.user_key for d in letters) == ["b1", "b2"]
    for letter in letters:
        assert letter.status == 422
        assert letter.error.startswith("HTTP 422: Custify refused the request as invalid")
        assert "(Custify: Invalid email)" in letter.error
    # The flaky job's 503 was retried, on its own, and went through.
    assert sorted(p["user_id"] for p in people) == sorted(["flaky", *(f"u{n}" for n in range(8))])
    assert batches_sent == 1  # the batch was not sent again after the restart


async def _settled(stats: Any) -> bool:
    s = await stats()
    return bool(s.sent == 0 and s.retrying == 0 and s.held == 0 and s.backlog == 0)


@pytest.mark.parametrize("failing", [False, True], ids=["clean", "failing-jobs"])
async def test_checks_stay_within_their_budget(sqlite_store: SQLiteStore, failing: bool) -> None:
    every, size, batches = 5, 5, 40
    events = [
        identify(f"u{n}", "bad@x.io" if failing and n % size == 0 else f"u{n}@x.io")
        for n in range(size * batches)
    ]
    await append(sqlite_store, events)
    with running(create_app(rate_limit=None, request_log_size=10_000)) as url:
        httpx.post(f"{url}/__sandbox/faults", json={"batch_job_errors": [BAD_EMAIL]})
        settings = {"batch_size": size, "batch_check_every": every, "batch_check_delay_s": 0}
        config = make_config([custify(url, **settings)])

        async def stats() -> Any:
            return await sqlite_store.stats("custify", ["web"])

        async def done() -> bool:
            s = await stats()
            return bool(s.backlog == 0 and s.sent == 0 and s.delivered + s.dead == len(events))

        await run_until(sqlite_store, config, done)
        posts, checks = requests(url, "POST", "/batch"), requests(url, "GET", "/batch/")
        final = await stats()

    assert posts == batches
    assert 1 <= checks <= BURST + batches // every
    checked_events = size * checks
    assert final.unverified == len(events) - checked_events
    if failing:
        # Only the checked batches' failures are known; one bad job in each of them.
        assert final.dead == checks
        assert final.dead_by_error == {
            "HTTP 422: Custify refused the request as invalid (Custify: Invalid email)": checks
        }
    else:
        assert final.dead == 0


async def test_a_synchronous_batch_is_settled_from_its_answer_without_a_check(
    sqlite_store: SQLiteStore,
) -> None:
    await append(sqlite_store, [identify("s1", "s1@x.io"), identify("s2", "bad@x.io")])
    with running(create_app(rate_limit=None)) as url:
        httpx.post(f"{url}/__sandbox/faults", json={"batch_job_errors": [BAD_EMAIL]})
        settings = {"batch_size": 3, "batch_synchronous": True, "batch_check_every": 1}
        config = make_config([custify(url, **settings)])

        async def settled() -> bool:
            s = await sqlite_store.stats("custify", ["web"])
            return bool(s.delivered + s.dead == 2)

        await run_until(sqlite_store, config, settled)
        posts, checks = requests(url, "POST", "/batch"), requests(url, "GET", "/batch/")
    stats = await sqlite_store.stats("custify", ["web"])
    assert (stats.delivered, stats.unverified, stats.dead, stats.sent) == (1, 0, 1, 0)
    assert (posts, checks) == (1, 0)
    (letter,) = await sqlite_store.dead_letters("custify")
    assert letter.user_key == "s2" and "(Custify: Invalid email)" in letter.error


async def test_batches_custify_forgot_or_past_its_retention_count_delivered_unverified(
    sqlite_store: SQLiteStore,
) -> None:
    await append(sqlite_store, [identify(f"x{n}", f"x{n}@x.io") for n in range(3)])
    page = await sqlite_store.read_new("custify", ["web"], 10)
    now = time.time()

    def jobs(events: list[LoggedEvent]) -> list[SentJob]:
        return [SentJob(e.seq, e.user_key, 0, None) for e in events]

    # As a previous process left them: one batch Custify never heard of (its check is a 404),
    # one whose outcome Custify no longer keeps (no check is made).
    await sqlite_store.record(
        Round(
            "custify",
            now,
            cursor=page.cursor,
            sent=[
                SentBatch("unknown-batch", jobs(page.events[:2]), now, now + 3600),
                SentBatch("expired-batch", jobs(page.events[2:]), now - 10, now - 1),
            ],
        )
    )
    with running(create_app(rate_limit=None)) as url:
        config = make_config([custify(url, batch_check_delay_s=0)])

        async def settled() -> bool:
            return bool((await sqlite_store.stats("custify", ["web"])).sent == 0)

        await run_until(sqlite_store, config, settled)
        checks = requests(url, "GET", "/batch/")
    stats = await sqlite_store.stats("custify", ["web"])
    assert (stats.delivered, stats.unverified, stats.dead, stats.retrying) == (3, 3, 0, 0)
    assert checks == 1  # the expired batch was not read


async def test_a_full_batchs_outcome_is_read_whole(sqlite_store: SQLiteStore) -> None:
    """``GET /batch/{id}`` of 100 jobs is tens of KB: more than a dead letter keeps."""
    events = [identify(f"f{n:03}", "bad@x.io" if n == 99 else f"f{n}@x.io") for n in range(100)]
    await append(sqlite_store, events)
    with running(create_app(rate_limit=None)) as url:
        httpx.post(f"{url}/__sandbox/faults", json={"batch_job_errors": [BAD_EMAIL]})
        config = make_config([custify(url, batch_check_every=1, batch_check_delay_s=0)])

        async def settled() -> bool:
            s = await sqlite_store.stats("custify", ["web"])
            return bool(s.sent == 0 and s.delivered + s.dead == len(events))

        await run_until(sqlite_store, config, settled)
        posts = requests(url, "POST", "/batch")
    stats = await sqlite_store.stats("custify", ["web"])
    assert posts == 1
    assert (stats.delivered, stats.unverified, stats.dead) == (99, 0, 1)
    (letter,) = await sqlite_store.dead_letters("custify")
    assert letter.user_key == "f099"


async def test_a_user_forgotten_before_the_check_leaves_no_dead_letter(
    sqlite_store: SQLiteStore,
) -> None:
    await append(sqlite_store, [identify("gone", "bad@x.io"), identify("kept", "bad@x.io")])
    gate = HeldChecks(rate_limit=None)
    with running(gate) as url:
        httpx.post(f"{url}/__sandbox/faults", json={"batch_job_errors": [BAD_EMAIL]})
        config = make_config([custify(url, batch_check_every=1, batch_check_delay_s=0)])

        async def stats() -> Any:
            return await sqlite_store.stats("custify", ["web"])

        await send_then_stop_before_the_check(sqlite_store, gate, config, 2)
        await sqlite_store.forget("custify", "gone", time.time())
        gate.opened.set()
        await run_until(sqlite_store, config, lambda: _settled(stats))
    final = await stats()
    assert (final.dead, final.delivered, final.filtered) == (1, 0, 1)
    assert final.filtered_by_reason == {FORGOTTEN: 1}
    assert [d.user_key for d in await sqlite_store.dead_letters("custify")] == ["kept"]
