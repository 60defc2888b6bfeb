"""The store backends under test: every test taking ``store`` runs once per entry of BACKENDS.

A backend is added with one entry: its name and how to open a fresh, empty store in a
temporary directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from csroute.store.base import Store
from csroute.store.memory import MemoryStore
from csroute.store.postgres import PostgresStore
from csroute.store.sqlite import SQLiteStore
from support.postgres import fresh_database

BACKENDS: dict[str, Callable[[Path], Awaitable[Store]]] = {
    "memory": lambda _tmp: _memory(),
    "sqlite": lambda tmp: SQLiteStore.open(tmp / "events.db"),
    "postgres": lambda _tmp: PostgresStore.open(fresh_database()),
}


async def _memory() -> Store:
    return MemoryStore()


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await BACKENDS[request.param](tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
