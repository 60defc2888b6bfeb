"""``PostgresStore``: one database shared by any number of csroute processes on any machines.

Appends go through the process's group-commit connection (``appender``); everything else runs
on a small connection pool, each call in one transaction of its own. The driver is psycopg 3
in its asyncio mode, so nothing here blocks the event loop.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Final, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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
from csroute.store.postgres import reads, schema, writes
from csroute.store.postgres import runs as postgres_runs
from csroute.store.postgres.appender import Appender
from csroute.store.postgres.schema import Conn

T = TypeVar("T")

POOL_SIZE: Final = 8
"""Connections for reads and delivery-state writes (appends have one of their own)."""
CONNECT_TIMEOUT_S: Final = 5
"""How long to try reaching the server before the store reports itself unavailable."""
WAIT_S: Final = 10.0
"""How long a call waits for a free pool connection (or a reconnect) before giving up."""


def unavailable(exc: Exception) -> Exception:
    """``StoreUnavailable`` for trouble with the server (down, unreachable, out of disk, pool
    exhausted); anything else (a bad parameter, a constraint violated) is a bug, left as is."""
    if isinstance(exc, psycopg.OperationalError | PoolTimeout):
        error = StoreUnavailable(f"postgres: {exc}")
        error.__cause__ = exc
        return error
    return exc


class PostgresStore(Store):
    """The event log and delivery state in a PostgreSQL database; open with ``open``."""

    def __init__(self, url: str, pool: AsyncConnectionPool[Conn]) -> None:
        self._pool = pool
        self._appender = Appender(url, CONNECT_TIMEOUT_S)

    @classmethod
    async def open(cls, url: str, pool_size: int = POOL_SIZE) -> PostgresStore:
        """Connect, and create or upgrade the schema (see ``schema.migrate``)."""
        await migrate(url)
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            open=False,
            timeout=WAIT_S,
            check=AsyncConnectionPool.check_connection,
        )
        try:
            await pool.open(wait=True)
        except PoolTimeout as exc:
            raise unavailable(exc) from exc
        return cls(url, pool)

    @property
    def commits(self) -> int:
        """Append transactions committed since opening (appends share them)."""
        return self._appender.commits

    async def _read(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``fn`` in a read-only transaction that sees one snapshot throughout."""
        try:
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return await fn(conn)
        except Exception as exc:
            error = unavailable(exc)
            if error is exc:
                raise
            raise error from exc

    async def _write(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``fn`` in a read-committed transaction and commit."""
        try:
            async with self._pool.connection() as conn, conn.transaction():
                return await fn(conn)
        except Exception as exc:
            error = unavailable(exc)
            if error is exc:
                raise
            raise error from exc

    async def append(self, events: Sequence[NewEvent]) -> None:
        if events:
            await self._appender.append(events)

    async def read_new(
        self,
        destination: str,
        sources: Collection[str],
        limit: int,
        partition: Partition = WHOLE,
        after: int | None = None,
    ) -> Page:
        return await self._read(
            lambda c: reads.read_new(c, destination, sources, limit, partition, after)
        )

    async def due(
        self, destination: str, now: float, limit: int, partition: Partition = WHOLE
    ) -> list[PendingEvent]:
        return await self._read(lambda c: reads.due(c, destination, now, limit, partition))

    async def blocked_users(self, destination: str, partition: Partition = WHOLE) -> set[str]:
        return await self._read(lambda c: reads.blocked_users(c, destination, partition))

    async def record(self, round: Round) -> set[str]:
        return await self._write(lambda c: writes.record(c, round))

    async def batch_checks(
        self, destination: str, now: float, limit: int, partition: Partition = WHOLE
    ) -> list[BatchCheck]:
        return await self._read(lambda c: reads.batch_checks(c, destination, now, limit, partition))

    async def traits(self, destination: str, users: Collection[str]) -> dict[str, bytes]:
        if not users:
            return {}
        return await self._read(lambda c: reads.traits(c, destination, users))

    async def lease(
        self, destination: str, partitions: int, owner: str, now: float, ttl_s: float
    ) -> Leases:
        return await self._write(
            lambda c: writes.lease(c, destination, partitions, owner, now, ttl_s)
        )

    async def release(
        self, destination: str, partitions: int, owner: str, held: Mapping[int, int]
    ) -> None:
        await self._write(lambda c: writes.release(c, destination, partitions, owner, held))

    async def forget(self, destination: str, user_key: str, now: float) -> int:
        return await self._write(lambda c: writes.forget(c, destination, user_key, now))

    async def forgotten(self, destination: str) -> dict[str, int]:
        return await self._read(lambda c: reads.forgotten(c, destination))

    async def dead_letters(
        self, destination: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[DeadLetter]:
        return await self._read(lambda c: reads.dead_letters(c, destination, after_id, limit))

    async def dead_letter(self, id: int) -> DeadLetter | None:
        return await self._read(lambda c: reads.dead_letter(c, id))

    async def replay(self, ids: Collection[int], now: float) -> int:
        return await self._write(lambda c: writes.replay(c, ids, now))

    async def discard(self, ids: Collection[int]) -> int:
        return await self._write(lambda c: writes.discard(c, ids))

    async def trigger_cursors(self, trigger: str) -> dict[str, TriggerCursor]:
        rows = await self._read(lambda c: reads.trigger_cursors(c, trigger))
        return {scope: TriggerCursor.stored(at, ids) for scope, (at, ids) in rows.items()}

    async def save_trigger_cursor(self, trigger: str, scope: str, cursor: TriggerCursor) -> None:
        await self._write(
            lambda c: writes.save_trigger_cursor(c, trigger, scope, cursor.at, cursor.ids_json)
        )

    async def reset_trigger(self, trigger: str) -> int:
        return await self._write(lambda c: writes.reset_trigger(c, trigger))

    async def handed_on(self, trigger: str, keys: Collection[str]) -> set[str]:
        wanted = list(keys)
        if not wanted:
            return set()
        return await self._read(lambda c: reads.handed_on(c, trigger, wanted))

    async def mark_handed_on(
        self, trigger: str, keys: Collection[str], now: float, keep_s: float
    ) -> None:
        wanted = list(keys)
        await self._write(lambda c: writes.mark_handed_on(c, trigger, wanted, now, keep_s))

    async def create_run(self, workflow: str, key: str, trigger: bytes, now: float) -> int | None:
        return await self._write(lambda c: postgres_runs.create_run(c, workflow, key, trigger, now))

    async def claim_run(self, id: int, owner: str, now: float, ttl_s: float) -> bool:
        params = runs.claim_params(id, owner, now, ttl_s)
        return await self._write(lambda c: postgres_runs.claim_run(c, params))

    async def record_step(self, step: StepRecord) -> None:
        await self._write(lambda c: postgres_runs.record_step(c, step))

    async def finish_run(self, id: int, state: RunState, error: str | None, now: float) -> None:
        await self._write(lambda c: postgres_runs.finish_run(c, id, state, error, now))

    async def retry_run(self, id: int, now: float) -> bool:
        return await self._write(lambda c: postgres_runs.retry_run(c, id, now))

    async def workflow_run(self, id: int) -> WorkflowRun | None:
        return await self._read(lambda c: postgres_runs.workflow_run(c, id))

    async def workflow_runs(
        self, workflow: str, limit: int = 50, before_id: int | None = None
    ) -> list[WorkflowRun]:
        before = runs.NO_ID if before_id is None else before_id
        return await self._read(lambda c: postgres_runs.workflow_runs(c, workflow, limit, before))

    async def unfinished_runs(self, now: float, limit: int = 100) -> list[int]:
        return await self._read(lambda c: postgres_runs.unfinished_runs(c, now, limit))

    async def stats(self, destination: str, sources: Collection[str]) -> DestinationStats:
        return await self._read(lambda c: reads.stats(c, destination, sources))

    async def prune(
        self, destinations: Collection[str], received_before: float | None = None
    ) -> int:
        """Deleted rows are vacuumed by autovacuum and their space reused by later appends."""
        if not destinations:
            return 0
        ceiling = await self._read(lambda c: reads.prune_ceiling(c, destinations, received_before))
        deleted, after = 0, 0
        while after < ceiling:
            chunk, after = await self._write(
                functools.partial(writes.prune_chunk, after=after, ceiling=ceiling)
            )
            deleted += chunk
        return deleted

    async def ping(self) -> None:
        now = time.time()
        await self._write(lambda c: writes.ping(c, now))

    async def close(self) -> None:
        await self._appender.close()
        await self._pool.close()


async def migrate(url: str) -> tuple[int, int]:
    """Create or upgrade the schema of the database at ``url``; returns (before, after)."""
    try:
        connect = psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
        async with await connect as conn:
            return await schema.migrate(conn)
    except psycopg.OperationalError as exc:
        raise unavailable(exc) from exc
