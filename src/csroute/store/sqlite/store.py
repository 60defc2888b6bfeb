"""``SQLiteStore``: the embedded backend, one database file on one machine.

Writes go through one writer process (group commit, see ``writer_process``); reads run on a
few reader threads with connections of their own (see ``readers``). The file is in WAL mode with
``synchronous=FULL`` by default, so an acknowledged append survives a power cut;
``synchronous=NORMAL`` trades that for fewer fsyncs and still survives a crash of the process.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections.abc import Awaitable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Literal

from csroute.events.model import NewEvent
from csroute.store import runs
from csroute.store.base import (
    WHOLE,
    BatchCheck,
    DeadLetter,
    DestinationStats,
    Leases,
    Page,
    Partition,
    PendingEvent,
    Round,
    RunState,
    StepRecord,
    Store,
    StoreUnavailable,
    TriggerCursor,
    WorkflowRun,
)
from csroute.store.sqlite import reads, schema, writes
from csroute.store.sqlite import runs as sqlite_runs
from csroute.store.sqlite.errors import unavailable
from csroute.store.sqlite.readers import Readers
from csroute.store.sqlite.writer import Writer


class SQLiteStore(Store):
    """The event log and delivery state in one SQLite file.

    Open it with ``await SQLiteStore.open(path)``, on the event loop that will use it: the
    writer process answers on that loop. ``readers`` is how many reads may run at once, each
    on a thread and connection of its own.
    """

    def __init__(self, path: Path, writer: Writer, readers: Readers) -> None:
        self.path = path
        self._writer = writer
        self._readers = readers

    @classmethod
    async def open(
        cls,
        path: str | Path,
        synchronous: Literal["full", "normal"] = "full",
        readers: int = 4,
    ) -> SQLiteStore:
        path = Path(path)
        await asyncio.to_thread(_create_or_upgrade, path, synchronous)
        writer = await Writer.start(path, synchronous)
        return cls(path, writer, Readers(path, readers))

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
        after: int | None = None,
    ) -> Page:
        _whole(partition)
        return await self._readers.run(
            lambda c: reads.read_new(c, destination, sources, limit, after)
        )

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
        return await self._writer.run(writes.record, round)

    async def batch_checks(
        self, destination: str, now: float, limit: int, partition: Partition = WHOLE
    ) -> list[BatchCheck]:
        _whole(partition)
        return await self._readers.run(lambda c: reads.batch_checks(c, destination, now, limit))

    async def lease(
        self, destination: str, partitions: int, owner: str, now: float, ttl_s: float
    ) -> Leases:
        """See ``writes.lease``: one worker per file, so the lease never expires."""
        return await self._writer.run(writes.lease, destination, partitions, owner)

    async def release(
        self, destination: str, partitions: int, owner: str, held: Mapping[int, int]
    ) -> None:
        await self._writer.run(writes.release, destination, partitions, owner, dict(held))

    async def traits(self, destination: str, users: Collection[str]) -> dict[str, bytes]:
        return await self._readers.run(lambda c: reads.traits(c, destination, users))

    async def forget(self, destination: str, user_key: str, now: float) -> int:
        return await self._writer.run(writes.forget, destination, user_key, now)

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
        return await self._writer.run(writes.replay, list(ids), now)

    async def discard(self, ids: Collection[int]) -> int:
        return await self._writer.run(writes.discard, list(ids))

    async def trigger_cursors(self, trigger: str) -> dict[str, TriggerCursor]:
        rows = await self._readers.run(lambda c: reads.trigger_cursors(c, trigger))
        return {scope: TriggerCursor.stored(at, ids) for scope, (at, ids) in rows.items()}

    async def save_trigger_cursor(self, trigger: str, scope: str, cursor: TriggerCursor) -> None:
        await self._writer.run(
            writes.save_trigger_cursor, trigger, scope, cursor.at, cursor.ids_json
        )

    async def reset_trigger(self, trigger: str) -> int:
        return await self._writer.run(writes.reset_trigger, trigger)

    async def handed_on(self, trigger: str, keys: Collection[str]) -> set[str]:
        wanted = list(keys)
        return await self._readers.run(lambda c: reads.handed_on(c, trigger, wanted))

    async def mark_handed_on(
        self, trigger: str, keys: Collection[str], now: float, keep_s: float
    ) -> None:
        await self._writer.run(writes.mark_handed_on, trigger, list(keys), now, keep_s)

    async def create_run(self, workflow: str, key: str, trigger: bytes, now: float) -> int | None:
        return await self._writer.run(sqlite_runs.create_run, workflow, key, trigger, now)

    async def claim_run(self, id: int, owner: str, now: float, ttl_s: float) -> bool:
        params = runs.claim_params(id, owner, now, ttl_s)
        return await self._writer.run(sqlite_runs.claim_run, params)

    async def record_step(self, step: StepRecord) -> None:
        await self._writer.run(sqlite_runs.record_step, step)

    async def finish_run(self, id: int, state: RunState, error: str | None, now: float) -> None:
        await self._writer.run(sqlite_runs.finish_run, id, state, error, now)

    async def retry_run(self, id: int, now: float) -> bool:
        return await self._writer.run(sqlite_runs.retry_run, id, now)

    async def workflow_run(self, id: int) -> WorkflowRun | None:
        return await self._readers.run(lambda c: sqlite_runs.workflow_run(c, id))

    async def workflow_runs(
        self, workflow: str, limit: int = 50, before_id: int | None = None
    ) -> list[WorkflowRun]:
        before = runs.NO_ID if before_id is None else before_id
        return await self._readers.run(
            lambda c: sqlite_runs.workflow_runs(c, workflow, limit, before)
        )

    async def unfinished_runs(self, now: float, limit: int = 100) -> list[int]:
        return await self._readers.run(lambda c: sqlite_runs.unfinished_runs(c, now, limit))

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
            chunk, after = await self._writer.run(writes.prune_chunk, after, ceiling)
            deleted += chunk
        return deleted

    async def ping(self) -> None:
        if not self._writer.alive:
            raise StoreUnavailable("the store's writer is not running")
        now = time.time()
        await self._writer.run(writes.ping, now)

    async def close(self) -> None:
        await self._writer.close()
        await self._readers.close()


def _create_or_upgrade(path: Path, synchronous: Literal["full", "normal"]) -> None:
    """Bring the file to the current schema before the writer opens it (errors surface here,
    as ``StoreUnavailable`` naming the file when the database cannot be written)."""
    try:
        conn = schema.connect(path, synchronous=synchronous)
        try:
            schema.migrate(conn)
        finally:
            conn.close()
    except sqlite3.Error as e:
        error = unavailable(e)
        if isinstance(error, StoreUnavailable):
            raise StoreUnavailable(f"cannot open {path}: {error}{_free_space(path)}") from e
        raise


def _free_space(path: Path) -> str:
    """How much room the file's file system has left: a full disk shows up in SQLite as
    ``database or disk is full`` or as a mere ``disk I/O error``, and this tells which."""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return ""
    return f" ({free // 1024} KiB free on its file system)"


def _whole(partition: Partition) -> None:
    """One SQLite file serves one worker process: a destination is never split (see ``lease``)."""
    if partition != WHOLE:
        raise ValueError("the SQLite store does not split destinations into partitions")
