"""Fixtures: a fresh SQLite store and a live gateway in front of it (see gateway_support)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from gateway_support import SOURCES, WRITE_KEY, Gateway, basic, serve

from csroute.events.limits import Limits
from csroute.gateway.app import GatewayApp
from csroute.store.sqlite import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "events.db")
    yield s
    await s.close()


@pytest.fixture
async def gateway(store: SQLiteStore) -> AsyncIterator[Gateway]:
    limits = Limits(max_batch_events=50)
    async with (
        serve(GatewayApp(store, SOURCES, limits)) as url,
        httpx.AsyncClient(base_url=url, headers=basic(WRITE_KEY)) as client,
    ):
        yield Gateway(url, store, client)
