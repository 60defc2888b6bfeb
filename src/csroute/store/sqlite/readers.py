"""Reads, off the event loop, on connections of their own.

In WAL mode readers never wait for the writer and see a consistent snapshot for the length of
a read transaction, so every read runs in one: a page and the end of the log it reports, or
due heads and the runs behind them, come from the same moment.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from csroute.store.base import StoreUnavailable
from csroute.store.sqlite.errors import unavailable
from csroute.store.sqlite.schema import connect

T = TypeVar("T")


class Readers:
    """A few threads, each with its own read-only connection, opened on first use."""

    def __init__(self, path: Path, threads: int) -> None:
        self._path = path
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="csroute-sqlite-read")

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in a read transaction on a reader thread."""
        if self._closed:
            raise StoreUnavailable("the store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._read, fn)

    async def close(self) -> None:
        self._closed = True
        await asyncio.to_thread(self._pool.shutdown)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn = self._conn()
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                if conn.in_transaction:  # an error may have ended it already
                    conn.execute("ROLLBACK")
        except Exception as exc:
            error = unavailable(exc)
            if error is exc:
                raise
            raise error from exc

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._path)
            with self._lock:
                self._conns.append(conn)
            self._local.conn = conn
        return conn
