"""Fixtures shared across the suite."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # makes tests/support importable as `support`

from csroute.custify.sandbox import running
from csroute.store.sqlite import SQLiteStore
from support.unit import stay_in_process


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test marked ``unit`` fails if it starts a server or a subprocess (support/unit.py)."""
    if request.node.get_closest_marker("unit") is not None:
        stay_in_process(monkeypatch)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = await SQLiteStore.open(tmp_path / "events.db")
    yield store
    await store.close()


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    """A Custify sandbox for the test module, without its server-side rate limit."""
    with running(rate_limit=None) as url:
        yield url


@pytest.fixture
def url(sandbox_url: str) -> str:
    """The module's Custify sandbox, emptied for this test."""
    httpx.post(f"{sandbox_url}/__sandbox/reset").raise_for_status()
    return sandbox_url
