"""Workflow runs on PostgreSQL, each call in a transaction of the caller's (the statements are
``store.runs``', with PostgreSQL's placeholders)."""

from __future__ import annotations

from typing import Any, Final

from csroute.store import runs
from csroute.store.base import StepRecord, WorkflowRun
from csroute.store.postgres.schema import Conn

_sql = runs.postgres_sql
_CREATE_RUN: Final = _sql(runs.CREATE_RUN)
_CLAIM_RUN: Final = _sql(runs.CLAIM_RUN)
_RECORD_STEP: Final = _sql(runs.RECORD_STEP)
_FINISH_RUN: Final = _sql(runs.FINISH_RUN)
_RETRY_RUN: Final = _sql(runs.RETRY_RUN)
_RUN: Final = _sql(runs.RUN)
_STEPS: Final = _sql(runs.STEPS)
_RUNS: Final = _sql(runs.RUNS)
_UNFINISHED: Final = _sql(runs.UNFINISHED)


async def create_run(conn: Conn, workflow: str, key: str, trigger: bytes, now: float) -> int | None:
    cur = await conn.execute(_CREATE_RUN, (workflow, key, trigger, now, now))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def claim_run(conn: Conn, params: tuple[Any, ...]) -> bool:
    cur = await conn.execute(_CLAIM_RUN, params)
    return cur.rowcount == 1


async def record_step(conn: Conn, step: StepRecord) -> None:
    await conn.execute(_RECORD_STEP, runs.step_params(step))


async def finish_run(conn: Conn, id: int, state: str, error: str | None, now: float) -> None:
    await conn.execute(_FINISH_RUN, (state, error, now, id))


async def retry_run(conn: Conn, id: int, now: float) -> bool:
    cur = await conn.execute(_RETRY_RUN, (now, id))
    return cur.rowcount == 1


async def workflow_run(conn: Conn, id: int) -> WorkflowRun | None:
    cur = await conn.execute(_RUN, (id,))
    row = await cur.fetchone()
    if row is None:
        return None
    steps = await conn.execute(_STEPS, (id,))
    return runs.run_of(row, await steps.fetchall())


async def workflow_runs(conn: Conn, workflow: str, limit: int, before_id: int) -> list[WorkflowRun]:
    cur = await conn.execute(_RUNS, (workflow, before_id, limit))
    return [runs.run_of(r) for r in await cur.fetchall()]


async def unfinished_runs(conn: Conn, now: float, limit: int) -> list[int]:
    cur = await conn.execute(_UNFINISHED, (now, limit))
    return [int(id) for (id,) in await cur.fetchall()]
