"""The PostgreSQL store through connection loss: it says so, acknowledges nothing, recovers."""

from __future__ import annotations

import json

import psycopg
import pytest

from csroute.events.model import NewEvent
from csroute.store.base import StoreUnavailable
from csroute.store.postgres import PostgresStore
from support.postgres import fresh_database


def new(n: int) -> NewEvent:
    payload = json.dumps({"type": "track", "userId": "u", "n": n}).encode()
    return NewEvent(source="web", user_key="u", type="track", payload=payload)


def cut_connections(url: str) -> int:
    """Terminate every other session on the database, as a failover or restart would."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


async def test_appends_fail_loudly_on_a_lost_connection_and_then_recover() -> None:
    url = fresh_database()
    store = await PostgresStore.open(url)
    try:
        await store.append([new(0)])
        assert cut_connections(url) >= 1

        with pytest.raises(StoreUnavailable):
            await store.append([new(1)])
        await store.append([new(2)])  # a new connection
        await store.ping()  # the pool replaces its broken connections too

        page = await store.read_new("d", {"web"}, 10)
        assert [json.loads(e.payload)["n"] for e in page.events] == [0, 2]
    finally:
        await store.close()


async def test_an_unreachable_server_is_reported_as_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        await PostgresStore.open("postgresql://csroute@127.0.0.1:1/none")
