"""PostgreSQL stores for the tests in this folder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from csroute.store.postgres import PostgresStore
from support.postgres import fresh_database


@pytest.fixture
async def pg_store() -> AsyncIterator[PostgresStore]:
    store = await PostgresStore.open(fresh_database())
    yield store
    await store.close()


@pytest.fixture
async def sqlite_store(pg_store: PostgresStore) -> PostgresStore:
    """The router's delivery tests take a store by this name; here they get PostgreSQL."""
    return pg_store


@pytest.fixture
async def store(pg_store: PostgresStore) -> PostgresStore:
    """The router's tests that run on the in-memory store take it by this name; here they get
    PostgreSQL."""
    return pg_store
