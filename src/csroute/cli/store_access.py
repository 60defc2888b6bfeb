"""Running a coroutine against the configured store from a CLI command.

Commands that inspect or operate on what ``csroute serve`` stored never create a store: an
empty new one would answer with zeros and hide that the command looked in the wrong place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from csroute.cli.common import UNAVAILABLE, fail
from csroute.config import Config
from csroute.store.base import Store, StoreUnavailable

T = TypeVar("T")


def with_store(config: Config, action: Callable[[Store], Awaitable[T]]) -> T:
    """Run ``action`` on the existing store; exit 3 saying where it looked if there is none."""
    from csroute.store.open import open_store, shown_url

    if config.store.backend == "sqlite":
        path = config.data_path(config.store.path)
        if not path.is_file():
            fail(
                f"no store at {path}: nothing was stored there yet. Is `csroute serve` using the "
                "same configuration (--config, $CSROUTE_CONFIG, ./csroute.yaml)? Relative paths "
                "in a configuration file are relative to its directory.",
                UNAVAILABLE,
            )

    async def go() -> T:
        store = await open_store(config.store, config.data_dir)
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except StoreUnavailable as e:
        fail(f"cannot open the store at {shown_url(config.store.url)}: {e}", UNAVAILABLE)
