"""Opening the configured store backend."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from csroute.files import restrict_database
from csroute.secrets import mask
from csroute.store.base import Store
from csroute.store.settings import StoreConfig


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


async def open_store(settings: StoreConfig, data_dir: str) -> Store:
    """The store ``settings`` describe; a SQLite file is relative to ``data_dir``."""
    if settings.backend == "postgres":
        from csroute.store.postgres import PostgresStore

        return await PostgresStore.open(settings.url, pool_size=settings.pool_size)
    from csroute.store.sqlite import SQLiteStore

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    path = Path(data_dir) / settings.path
    restrict_database(path, settings.file_mode)
    return await SQLiteStore.open(path, synchronous=settings.synchronous)
