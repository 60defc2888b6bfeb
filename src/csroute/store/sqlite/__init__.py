"""The embedded SQLite backend of the store."""

from csroute.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
