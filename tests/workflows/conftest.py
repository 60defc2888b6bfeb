"""A Custify sandbox served in this process (its state reachable), fresh for each test, and a
store of each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from workflows_support import API_KEY, Kit

from csroute.custify.sandbox import create_app
from csroute.store.base import Store
from csroute.store.postgres import PostgresStore
from csroute.store.sqlite import SQLiteStore
from support.postgres import fresh_database
from support.servers import ServerThread


@pytest.fixture
def kit() -> Iterator[Kit]:
    app = create_app(api_keys=(API_KEY,), rate_limit=None)
    with ServerThread(app) as server:
        kit = Kit(app, server.url)
        try:
            yield kit
        finally:
            kit.http.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each test taking ``store`` runs on both backends."""
    if request.param == "sqlite":
        opened: Store = await SQLiteStore.open(tmp_path / "events.db")
    else:
        opened = await PostgresStore.open(fresh_database())
    try:
        yield opened
    finally:
        await opened.close()
