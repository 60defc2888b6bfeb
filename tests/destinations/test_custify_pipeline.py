"""The Custify destination through the real router into the Custify sandbox, batched.

Custify applies asynchronous batch jobs in an undocumented order; the sandbox's ``batch_shuffle``
fault applies them in random order. Per-user order must still hold: every track lands (its
identify was in an earlier batch), every user ends up in their company.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from csroute.custify.sandbox import create_app, running
from csroute.router.ratelimit import Limiters
from csroute.router.router import Router
from csroute.store.sqlite import SQLiteStore
from support.pipeline import append, event, make_config, wait_until

TS = "2026-01-02T03:04:05.000Z"
USERS = 40
TRACKS = 3


def user_events(n: int) -> list[dict[str, Any]]:
    user = f"u{n}"
    events = [event(user, 0, "identify", traits={"email": f"{user}@x.io"}, timestamp=TS)]
    events += [event(user, i, timestamp=TS) for i in range(1, TRACKS + 1)]
    events.append(
        event(user, 9, "group", groupId=f"c{n % 5}", traits={"name": f"Co {n % 5}"}, timestamp=TS)
    )
    return events


async def nothing_sent(store: SQLiteStore) -> bool:
    """Every accepted batch's outcome is known (checked, or never to be)."""
    return (await store.stats("custify", ["web"])).sent == 0


@pytest.mark.parametrize(
    ("batch_size", "rate_limit"),
    [(1, None), (100, (100, 10.0))],  # one request per event would take 24 s under the limit
)
async def test_users_events_and_companies_land_in_order(
    sqlite_store: SQLiteStore, batch_size: int, rate_limit: tuple[int, float] | None
) -> None:
    with running(create_app(rate_limit=rate_limit)) as base_url:
        httpx.post(f"{base_url}/__sandbox/faults", json={"batch_shuffle": True, "seed": 3})
        settings = {
            "api_key": "sandbox-key",
            "base_url": base_url,
            "batch_size": batch_size,
            "rate_limit_requests": 100 if rate_limit else 100_000,
            "batch_check_delay_s": 0,
        }
        config = make_config([{"name": "custify", "type": "custify", "settings": settings}])
        # Interleave users so that batches mix them, as real traffic does.
        streams = [user_events(n) for n in range(USERS)]
        await append(sqlite_store, [e for step in zip(*streams, strict=True) for e in step])

        def state() -> dict[str, Any]:
            result: dict[str, Any] = httpx.get(f"{base_url}/__sandbox/state").json()
            return result

        router = Router(config, sqlite_store, Limiters())
        router.start()
        try:
            await wait_until(lambda: state()["counts"]["events"] == USERS * TRACKS, timeout=120)
            await wait_until(lambda: all(p["companies"] for p in state()["people"]), timeout=60)
            await wait_until(lambda: nothing_sent(sqlite_store), timeout=30)
        finally:
            await router.stop()
        final = state()
    companies = {c["id"]: c for c in final["companies"]}
    assert sorted(c["company_id"] for c in companies.values()) == [f"c{i}" for i in range(5)]
    assert all(c["name"] == f"Co {c['company_id'][1:]}" for c in companies.values())
    people = {p["user_id"]: p for p in final["people"]}
    assert len(people) == USERS
    for n in range(USERS):
        person = people[f"u{n}"]
        assert person["email"] == f"u{n}@x.io"
        assert [companies[i]["company_id"] for i in person["companies"]] == [f"c{n % 5}"]
    assert final["requests"].get("429", 0) == 0
    stats = await sqlite_store.stats("custify", ["web"])
    assert (stats.delivered, stats.backlog, stats.retrying, stats.held) == (
        USERS * (TRACKS + 2),
        0,
        0,
        0,
    )
