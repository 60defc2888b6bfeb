"""``SQLiteStore``: the embedded backend, one database file on one machine.

Writes go through one writer thread (group commit, see ``writer``); reads run on a few reader
threads with connections of their own (see ``readers``). The file is in WAL mode with
``synchronous=FULL`` by default, so an acknowledged append survives a power cut;
``synchronous=NORMAL`` trades that for fewer fsyncs and still survives a crash of the process.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Collection, Sequence
from pathlib import Path
from typing import Literal

from csroute.events.model import NewEvent
from csroute.store.base import (
    WHOLE,
    DeadLetter,
    DestinationStats,
    Page,
    Partition,
    PendingEvent,
    Round,
    Store,
    StoreUnavailable,
)
from csroute.store.sqlite import reads, schema, writes
from csroute.store.sqlite.readers import Readers
from csroute.store.sqlite.writer import Writer


class SQLiteStore(Store):
    """The event log and delivery state in one SQLite file.

    The constructor opens (creating if needed) the database and starts the writer thread; it
    blocks briefly, so async code uses ``await SQLiteStore.open(path)``. ``readers`` is how many
    reads may run at once, each on a thread and connection of its own.
    """

    def __init__(
        self,
        path: str | Path,
        synchronous: Literal["full", "normal"] = "full",
        readers: int = 4,
    ) -> None:
        self.path = Path(path)
        conn = schema.connect(self.path, synchronous=synchronous)
        try:
            schema.migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._writer = Writer(conn)
        self._readers = Readers(self.path, readers)

    @classmethod
    async def open(
        cls,
        path: str | Path,
        synchronous: Literal["full", "normal"] = "full",
        readers: int = 4,
    ) -> SQLiteStore:
        return await asyncio.to_thread(cls, path, synchronous, readers)

    @property
    def commits(self) -> int:
        """Transactions committed since opening (appends share them: see ``writer``)."""
        return self._writer.commits

    def append(self, events: Sequence[NewEvent]) -> Awaitable[None]:
        return self._writer.append(events)

    async def read_new(
        self,
        destination: str,
        sources: Collection[str],
        limit: int,
        partition: Partition = WHOLE,
    ) -> Page:
        _whole(partition)
        return await self._readers.run(lambda c: reads.read_new(c, destination, sources, limit))

    async def due(
        self, destination: str, now: float, limit: int, partition: Partition = WHOLE
    ) -> list[PendingEvent]:
        _whole(partition)
        return await self._readers.run(lambda c: reads.due(c, destination, now, limit))

    async def blocked_users(self, destination: str, partition: Partition = WHOLE) -> set[str]:
        _whole(partition)
        return await self._readers.run(lambda c: reads.blocked_users(c, destination))

    async def record(self, round: Round) -> set[str]:
        _whole(round.partition)
        return await self._writer.run(lambda c: writes.record(c, round))

    async def traits(self, destination: str, users: Collection[str]) -> dict[str, bytes]:
        return await self._readers.run(lambda c: reads.traits(c, destination, users))

    async def forget(self, destination: str, user_key: str, now: float) -> int:
        return await self._writer.run(lambda c: writes.forget(c, destination, user_key, now))

    async def forgotten(self, destination: str) -> dict[str, int]:
        return await self._readers.run(lambda c: reads.forgotten(c, destination))

    async def dead_letters(
        self, destination: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[DeadLetter]:
        return await self._readers.run(
            lambda c: reads.dead_letters(c, destination, after_id, limit)
        )

    async def dead_letter(self, id: int) -> DeadLetter | None:
        return await self._readers.run(lambda c: reads.dead_letter(c, id))

    async def replay(self, ids: Collection[int], now: float) -> int:
        return await self._writer.run(lambda c: writes.replay(c, ids, now))

    async def discard(self, ids: Collection[int]) -> int:
        return await self._writer.run(lambda c: writes.discard(c, ids))

    async def stats(self, destination: str, sources: Collection[str]) -> DestinationStats:
        return await self._readers.run(lambda c: reads.stats(c, destination, sources))

    async def prune(
        self, destinations: Collection[str], received_before: float | None = None
    ) -> int:
        """Freed pages are reused by later appends: the file stops growing but does not shrink."""
        ceiling = await self._readers.run(
            lambda c: reads.prune_ceiling(c, destinations, received_before)
        )
        deleted, after = 0, 0
        while after < ceiling:
            chunk, after = await self._writer.run(
                functools.partial(writes.prune_chunk, after=after, ceiling=ceiling)
            )
            deleted += chunk
        return deleted

    async def ping(self) -> None:
        if not self._writer.alive:
            raise StoreUnavailable("the store's writer is not running")
        now = time.time()
        await self._writer.run(lambda c: writes.ping(c, now))

    async def close(self) -> None:
        await self._writer.close()
        await self._readers.close()


def _whole(partition: Partition) -> None:
    """One SQLite file serves one worker process: a destination is never split (see ``lease``)."""
    if partition != WHOLE:
        raise ValueError("the SQLite store does not split destinations into partitions")
