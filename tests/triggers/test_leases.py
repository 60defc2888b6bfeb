"""Worker processes sharing a PostgreSQL store take turns polling a trigger, through a lease:
never two at once, and a dead worker's turn passes on once its lease expires. With SQLite,
the one worker always holds it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml
from triggers_support import API_KEY, Sandbox

from csroute.config import Config, parse
from csroute.store.base import Store
from csroute.store.postgres import PostgresStore
from csroute.triggers.outputs import Outputs
from csroute.triggers.runner import LeaseLost, Triggers
from support.postgres import fresh_database


def config(sandbox: Sandbox) -> Config:
    document: dict[str, Any] = {
        "sources": [{"name": "custify", "write_key": "wk"}],
        "custify_connections": {"sandbox": {"api_key": API_KEY, "base_url": sandbox.url}},
        "triggers": {"t": {"type": "note_created", "track": {"source": "custify"}}},
        "store": {"lease_ttl_s": 10},
    }
    return parse(yaml.safe_dump(document))


async def test_one_worker_at_a_time_holds_a_trigger_until_its_lease_expires(
    sandbox: Sandbox,
) -> None:
    store = await PostgresStore.open(fresh_database())
    now = [1_000.0]
    first = Triggers(config(sandbox), store, clock=lambda: now[0])
    second = Triggers(config(sandbox), store, clock=lambda: now[0])
    try:
        assert await first.holds("t")
        assert not await second.holds("t")
        now[0] += 5
        assert await first.holds("t")  # renewed
        assert not await second.holds("t")

        now[0] += 11  # the first worker stopped renewing: it died
        assert await second.holds("t")
        assert not await first.holds("t")
    finally:
        await first.stop()
        await second.stop()
        await store.close()


async def test_with_sqlite_the_only_worker_always_holds_its_triggers(
    sandbox: Sandbox, sqlite_store: Store
) -> None:
    triggers = Triggers(config(sandbox), sqlite_store)
    try:
        assert await triggers.holds("t")
        assert await triggers.holds("t")
    finally:
        await triggers.stop()


async def test_a_worker_that_loses_the_lease_mid_poll_stops_and_the_next_one_goes_on(
    sandbox: Sandbox,
) -> None:
    store = await PostgresStore.open(fresh_database())
    settings = config(sandbox)
    settings.store.lease_ttl_s = 0.3  # the renewal check runs every 0.1 s of real time
    now = [1_000.0]
    first = Triggers(settings, store, clock=lambda: now[0])
    second = Triggers(settings, store, clock=lambda: now[0])
    stuck = asyncio.Event()
    taken: list[str] = []

    async def hangs(out: dict[str, Any]) -> None:
        stuck.set()
        await asyncio.Event().wait()  # an output that never answers

    async def takes(out: dict[str, Any]) -> None:
        taken.append(out["id"])

    try:
        assert await first.holds("t")
        await first.poll("t")  # the first run: from now
        made = sandbox.create("note", 1)
        first.running["t"].outputs = hangs  # type: ignore[assignment]
        polling = asyncio.create_task(first.poll_holding("t"))
        await stuck.wait()

        now[0] += 11  # the first worker's lease expired: another takes over
        assert await second.holds("t")
        with pytest.raises(LeaseLost):
            await polling

        second.running["t"].outputs = takes  # type: ignore[assignment]
        await second.poll_holding("t")
        assert taken == made  # nothing was handed on by the first, nothing is lost
    finally:
        first.running["t"].outputs = Outputs("t", settings.triggers["t"], store)
        second.running["t"].outputs = Outputs("t", settings.triggers["t"], store)
        await first.stop()
        await second.stop()
        await store.close()
