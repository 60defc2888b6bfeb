"""The one thread that writes, and the group commit that makes acknowledged appends cheap.

SQLite allows one writer at a time and a durable commit costs an fsync, so a commit per
request would cap ingestion at the disk's fsync rate. Instead every write goes through one
thread that owns the write connection: it takes everything queued since its last commit,
inserts all waiting appends in a single transaction, commits once, and wakes all their callers
with one call into the event loop. Under load the batch grows by itself, so the fsync cost is
shared by however many requests arrived during the previous one.

Other writes (delivery rounds, replays, ...) run on the same thread, each in a transaction of
its own, so that one failing round never takes appends down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from csroute.events.model import NewEvent
from csroute.store.base import StoreUnavailable

T = TypeVar("T")

log = logging.getLogger(__name__)

INSERT_EVENT: Final = (
    "INSERT INTO events (source, user_key, type, payload, received_at) VALUES (?, ?, ?, ?, ?)"
)
INSERT_ROWS: Final = {
    n: "INSERT INTO events (source, user_key, type, payload, received_at) VALUES "
    + ", ".join(["(?, ?, ?, ?, ?)"] * n)
    for n in (128, 64, 32, 16, 8, 4, 2)
}
"""Multi-row inserts by row count: any number of rows takes a few statements, each prepared
once (SQLite's statement cache)."""


@dataclass(slots=True)
class _Append:
    events: Sequence[NewEvent]
    future: asyncio.Future[None]


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]


_STOP: Final = object()


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


class Writer:
    """Owns the write connection on a thread of its own; see the module docstring."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[_Append | _Job | object] = queue.SimpleQueue()
        self._closed = False
        self.commits = 0
        """Transactions committed so far: lets tests see that appends share commits."""
        # A daemon, so that a store nobody closed cannot keep the process from exiting; a
        # commit cut short at exit is rolled back by SQLite like any crash.
        self._thread = threading.Thread(target=self._run, name="csroute-sqlite-writer", daemon=True)
        self._thread.start()

    async def append(self, events: Sequence[NewEvent]) -> None:
        """Commit events with whatever other appends are queued; see ``Store.append``."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(_Append(events, future))
        await future

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the write connection in a transaction of its own and commit."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put(_Job(fn, future))
        return await future

    @property
    def alive(self) -> bool:
        return not self._closed and self._thread.is_alive()

    async def close(self) -> None:
        """Let the thread finish what is queued, then close the connection."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def _put(self, item: _Append | _Job) -> None:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        self._queue.put(item)

    # -- on the writer thread -----------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            appends: list[_Append] = []
            jobs: list[_Job] = []
            for item in items:
                if isinstance(item, _Append):
                    appends.append(item)
                elif isinstance(item, _Job):
                    jobs.append(item)
                else:
                    stop = True
            if appends:
                self._commit_appends(appends)
            for job in jobs:
                self._commit_job(job)
        self._conn.close()

    def _commit_appends(self, appends: list[_Append]) -> None:
        received_at = time.time()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            _insert_events(self._conn, [e for a in appends for e in a.events], received_at)
            self._conn.execute("COMMIT")
        except Exception as exc:
            self._rollback()
            log.error("could not commit %d appends: %s", len(appends), exc)
            message = f"could not commit events: {exc}"
            _settle([a.future for a in appends], None, lambda: StoreUnavailable(message))
        else:
            self.commits += 1
            _settle([a.future for a in appends], None, None)

    def _commit_job(self, job: _Job) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            result = job.fn(self._conn)
            self._conn.execute("COMMIT")
        except Exception as exc:
            self._rollback()
            error = unavailable(exc)
            _settle([job.future], None, lambda: error)
        else:
            self.commits += 1
            _settle([job.future], result, None)

    def _rollback(self) -> None:
        """Undo a failed transaction (SQLite may or may not have rolled it back itself)."""
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.error("rollback failed: %s", exc)


def _insert_events(conn: sqlite3.Connection, events: list[NewEvent], received_at: float) -> None:
    """Insert in as few statements as the sizes of ``INSERT_ROWS`` allow (64 rows: one).

    ``executemany`` steps once per row, giving up and retaking the GIL each time; under load
    every retake waits for the busy event-loop thread, and so does the commit's acknowledgement.
    """
    start = 0
    while start < len(events):
        left = len(events) - start
        size = next((n for n in INSERT_ROWS if n <= left), 1)
        params: list[object] = []
        for e in events[start : start + size]:
            params += (e.source, e.user_key, e.type, e.payload, received_at)
        conn.execute(INSERT_ROWS[size] if size > 1 else INSERT_EVENT, params)
        start += size


def _settle(
    futures: list[asyncio.Future[Any]],
    result: Any,
    error: Callable[[], BaseException] | None,
) -> None:
    """Hand the outcome to the waiting callers: one thread-safe call per event loop.

    ``error`` makes the exception for each caller: one exception object raised in many tasks
    would pile up all their tracebacks.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[Any]]] = {}
    for future in futures:
        by_loop.setdefault(future.get_loop(), []).append(future)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_resolve, waiting, result, error)


def _resolve(
    futures: list[asyncio.Future[Any]],
    result: Any,
    error: Callable[[], BaseException] | None,
) -> None:
    for future in futures:
        if future.done():  # the caller was cancelled
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error())
