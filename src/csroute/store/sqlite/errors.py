"""Which SQLite errors are the store's condition, and which are bugs."""

from __future__ import annotations

import sqlite3

from csroute.store.base import StoreUnavailable


def unavailable(exc: Exception) -> Exception:
    """The exception a caller should see: ``StoreUnavailable`` for trouble with the database.

    Disk full, I/O errors, a locked or read-only file and corruption are conditions of the
    store; anything else (a constraint violated, a bad parameter) is a bug and stays as it is.
    """
    if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
        error = StoreUnavailable(f"sqlite: {exc}")
        error.__cause__ = exc
        return error
    return exc
