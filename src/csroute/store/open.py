"""Opening the configured store backend."""

from __future__ import annotations

from pathlib import Path

from csroute.config import Config
from csroute.store.base import Store


async def open_store(config: Config) -> Store:
    if config.store.backend == "postgres":
        from csroute.store.postgres import PostgresStore

        return await PostgresStore.open(config.store.url, pool_size=config.store.pool_size)
    from csroute.store.sqlite import SQLiteStore

    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    return await SQLiteStore.open(
        config.data_path(config.store.path), synchronous=config.store.synchronous
    )
