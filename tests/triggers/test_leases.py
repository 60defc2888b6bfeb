"""Worker processes sharing a PostgreSQL store take turns polling a trigger, through a lease:
never two at once, and a dead worker's turn passes on once its lease expires. With SQLite,
the one worker always holds it."""

from __future__ import annotations

from typing import Any

import yaml
from triggers_support import API_KEY, Sandbox

from csroute.config import Config, parse
from csroute.store.base import Store
from csroute.store.postgres import PostgresStore
from csroute.triggers.runner import Triggers
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
