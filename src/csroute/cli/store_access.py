"""Running a coroutine against the configured store from a CLI command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from csroute.config import Config
from csroute.store.base import Store
from csroute.store.open import open_store

T = TypeVar("T")


def with_store(config: Config, action: Callable[[Store], Awaitable[T]]) -> T:
    async def go() -> T:
        store = await open_store(config)
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(go())
