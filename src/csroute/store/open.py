"""Opening the configured store backend."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from csroute.config import Config
from csroute.files import restrict_database
from csroute.secrets import mask
from csroute.store.base import Store


def shown_url(url: str) -> str:
    """A connection URL fit for logs and output: its password masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    netloc = f"{parts.username or ''}:{mask(parts.password)}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


async def open_store(config: Config) -> Store:
    if config.store.backend == "postgres":
        from csroute.store.postgres import PostgresStore

        return await PostgresStore.open(config.store.url, pool_size=config.store.pool_size)
    from csroute.store.sqlite import SQLiteStore

    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    path = config.data_path(config.store.path)
    restrict_database(path, config.store.file_mode)
    return await SQLiteStore.open(path, synchronous=config.store.synchronous)
