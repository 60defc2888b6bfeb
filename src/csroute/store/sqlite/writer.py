"""The one thread that writes, and the group commit that makes acknowledged appends cheap.

SQLite allows one writer at a time and a durable commit costs an fsync, so a commit per
request would cap ingestion at the disk's fsync rate. Instead every write goes through one
thread that owns the write connection: it takes everything queued since its last commit,
inserts all waiting appends in a single transaction, commits once, and wakes all their callers
with one call into the event loop. Under load the batch grows by itself, so the fsync cost is
shared by however many requests arrived during the previous one.

The thread shares the GIL with the event loop, and under load the loop holds it nearly all the
time: each time the thread needs it back (after waiting for work, after each SQLite call) it
may wait for the interpreter's switch interval. So the thread does as little Python as it can:
the loop hands over the appends of a whole pass at once (or of its first 32 rows), with their
rows already flattened into statement parameters, and up to ``MAX_STATEMENT_ROWS`` rows go in
with one autocommit ``INSERT``: one call into SQLite, which also commits (docs/benchmarks.md,
Gateway).

Other writes (delivery rounds, replays, ...) run on the same thread, each in a transaction of
its own, so that one failing round never takes appends down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from csroute.events.model import NewEvent
from csroute.store.base import StoreUnavailable

T = TypeVar("T")

log = logging.getLogger(__name__)

ROW_PARAMS: Final = 5
"""Parameters per event row: source, user_key, type, payload, received_at."""

MAX_STATEMENT_ROWS: Final = 128
"""Rows per ``INSERT``: their parameters stay under the 999 of SQLite builds before 3.32.
Each row count is a statement of its own, so the connection caches more statements than this
(``schema.STATEMENT_CACHE``)."""


HAND_OVER_ROWS: Final = 32
"""A pass's appends go to the thread as soon as they hold 32 rows, not only at its end: when
many requests arrive together, the first ones commit while the loop still works on the rest,
instead of all of them waiting for one commit with the loop idle (+10% single-event requests/s
at 64 connections, docs/benchmarks.md)."""


@functools.cache
def insert_rows(n: int) -> str:
    """The ``INSERT`` of ``n`` events (``ROW_PARAMS`` per row, in ``_Appends.params`` order)."""
    return "INSERT INTO events (source, user_key, type, payload, received_at) VALUES " + ", ".join(
        ["(?, ?, ?, ?, ?)"] * n
    )


@dataclass(slots=True)
class _Appends:
    """Appends made in one pass of an event loop, ready for the writer thread."""

    loop: asyncio.AbstractEventLoop
    futures: list[asyncio.Future[None]] = field(default_factory=list)
    params: list[object] = field(default_factory=list)


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
        self._queue: queue.SimpleQueue[_Appends | _Job | object] = queue.SimpleQueue()
        # The appends of the current pass of each event loop (one loop, but for some tests).
        self._gathering: dict[asyncio.AbstractEventLoop, _Appends] = {}
        self._closed = False
        self.commits = 0
        """Transactions committed so far: lets tests see that appends share commits."""
        # A daemon, so that a store nobody closed cannot keep the process from exiting; a
        # commit cut short at exit is rolled back by SQLite like any crash.
        self._thread = threading.Thread(target=self._run, name="csroute-sqlite-writer", daemon=True)
        self._thread.start()

    def append(self, events: Sequence[NewEvent]) -> asyncio.Future[None]:
        """Commit events with whatever other appends are queued; see ``Store.append``.

        The appends of one pass of the event loop reach the thread together, at the end of
        the pass or as soon as they hold ``HAND_OVER_ROWS`` rows, in the order made.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if not events:
            future.set_result(None)
            return future
        gathering = self._gathering.get(loop)
        if gathering is None:
            if self._closed:
                raise StoreUnavailable("the store is closed")
            gathering = self._gathering[loop] = _Appends(loop)
            loop.call_soon(self._hand_over, gathering)
        gathering.futures.append(future)
        received_at = time.time()
        params = gathering.params
        for e in events:
            params += (e.source, e.user_key, e.type, e.payload, received_at)
        if len(params) >= HAND_OVER_ROWS * ROW_PARAMS:
            self._hand_over(gathering)
        return future

    def _hand_over(self, appends: _Appends) -> None:
        if self._gathering.get(appends.loop) is not appends:
            return  # already handed over, when it filled up
        del self._gathering[appends.loop]
        if self._closed:  # closed during this pass: the thread is gone
            _resolve(appends.futures, None, lambda: StoreUnavailable("the store is closed"))
        else:
            self._queue.put(appends)

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

    def _put(self, item: _Job) -> None:
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
            appends: list[_Appends] = []
            jobs: list[_Job] = []
            for item in items:
                if type(item) is _Appends:
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

    def _commit_appends(self, appends: list[_Appends]) -> None:
        params = appends[0].params
        for more in appends[1:]:
            params += more.params
        try:
            _insert_events(self._conn, params)
        except Exception as exc:
            self._rollback()
            log.error("could not commit %d events: %s", len(params) // ROW_PARAMS, exc)
            message = f"could not commit events: {exc}"
            for a in appends:
                _settle(a.loop, a.futures, None, lambda: StoreUnavailable(message))
        else:
            self.commits += 1
            for a in appends:
                _settle(a.loop, a.futures, None, None)

    def _commit_job(self, job: _Job) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            result = job.fn(self._conn)
            self._conn.execute("COMMIT")
        except Exception as exc:
            self._rollback()
            error = unavailable(exc)
            _settle(job.future.get_loop(), [job.future], None, lambda: error)
        else:
            self.commits += 1
            _settle(job.future.get_loop(), [job.future], result, None)

    def _rollback(self) -> None:
        """Undo a failed transaction (SQLite may or may not have rolled it back itself)."""
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.error("rollback failed: %s", exc)


def _insert_events(conn: sqlite3.Connection, params: list[object]) -> None:
    """Insert the rows of ``params`` (``ROW_PARAMS`` values each) and commit them.

    Up to ``MAX_STATEMENT_ROWS`` rows take one autocommit statement; more take a transaction
    of statements that size plus one for the rest.
    """
    rows = len(params) // ROW_PARAMS
    if rows <= MAX_STATEMENT_ROWS:
        conn.execute(insert_rows(rows), params)
        return
    conn.execute("BEGIN IMMEDIATE")
    step = ROW_PARAMS * MAX_STATEMENT_ROWS
    for start in range(0, len(params), step):
        chunk = params[start : start + step]
        conn.execute(insert_rows(len(chunk) // ROW_PARAMS), chunk)
    conn.execute("COMMIT")


def _settle(
    loop: asyncio.AbstractEventLoop,
    futures: list[asyncio.Future[Any]],
    result: Any,
    error: Callable[[], BaseException] | None,
) -> None:
    """Hand the outcome to the callers waiting on ``loop``, in one thread-safe call.

    ``error`` makes the exception for each caller: one exception object raised in many tasks
    would pile up all their tracebacks.
    """
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
        loop.call_soon_threadsafe(_resolve, futures, result, error)


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
