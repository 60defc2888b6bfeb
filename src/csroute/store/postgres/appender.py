"""Group commit of appends, and the order in which appended events become visible.

Every process appends through one connection of its own: a task takes everything queued since
its last commit and inserts it in one transaction, so under load the cost of a durable commit
is shared by however many requests arrived during the previous one (as SQLite's writer does).

**Commit order.** ``seq`` comes from an identity sequence. With several appending processes, a
transaction that drew seq 100 could commit after one that drew 101; a worker reading in between
would move its cursor past 100 and never deliver it. So every append transaction first takes
one advisory transaction lock (``APPEND_LOCK``) and draws its seqs under it. PostgreSQL makes a
transaction visible before it releases its locks, so the next append draws higher seqs only
once every lower one is visible: the visible log is always a prefix of seq order, and a reader
may trust ``max(seq)`` as the end of the log. The price is that appends from all processes
commit one at a time; group commit makes each of those commits carry every event queued in its
process meanwhile (see docs/operations.md, "Scaling").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import psycopg

from csroute.events.model import NewEvent
from csroute.store.base import StoreUnavailable, part_of
from csroute.store.postgres.schema import APPEND_LOCK, Conn

log = logging.getLogger(__name__)

_INSERT: Final = """
INSERT INTO events (source, user_key, type, payload, received_at, part)
SELECT source, user_key, type, payload, %s, part
FROM unnest(%s::text[], %s::text[], %s::text[], %s::bytea[], %s::smallint[])
    WITH ORDINALITY AS e(source, user_key, type, payload, part, i)
ORDER BY i
"""


@dataclass(slots=True)
class _Append:
    events: Sequence[NewEvent]
    future: asyncio.Future[None]


class Appender:
    """Owns one connection and the task that commits queued appends on it."""

    def __init__(self, url: str, connect_timeout_s: int) -> None:
        self._url = url
        self._connect_timeout_s = connect_timeout_s
        self._conn: Conn | None = None
        self._queue: asyncio.Queue[_Append | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.commits = 0
        """Append transactions committed so far: lets tests see that appends share commits."""

    async def append(self, events: Sequence[NewEvent]) -> None:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="csroute-postgres-appender")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Append(events, future))
        await future

    async def close(self) -> None:
        """Commit what is queued, then close the connection."""
        self._closed = True
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
        if self._conn is not None:
            await self._conn.close()

    async def _run(self) -> None:
        stop = False
        while not stop:
            items = [await self._queue.get()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            appends = [item for item in items if item is not None]
            stop = len(appends) < len(items)
            if appends:
                await self._commit(appends)

    async def _commit(self, appends: list[_Append]) -> None:
        events = [e for a in appends for e in a.events]
        try:
            conn = await self._connection()
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
                await conn.execute(
                    _INSERT,
                    (
                        time.time(),
                        [e.source for e in events],
                        [e.user_key for e in events],
                        [e.type for e in events],
                        [e.payload for e in events],
                        [part_of(e.user_key) for e in events],
                    ),
                )
        except Exception as exc:  # whatever it was, the callers must hear of it, not hang
            log.error("could not commit %d appends: %s", len(appends), exc)
            await self._drop_connection()
            for a in appends:
                if not a.future.done():
                    a.future.set_exception(StoreUnavailable(f"could not commit events: {exc}"))
            return
        self.commits += 1
        for a in appends:
            if not a.future.done():  # the caller may have been cancelled
                a.future.set_result(None)

    async def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout_s
            )
        return self._conn

    async def _drop_connection(self) -> None:
        """After a failure the connection may be broken; the next commit opens a new one."""
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None
