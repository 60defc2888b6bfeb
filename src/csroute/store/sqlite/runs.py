"""Workflow runs on SQLite: the writes run in the writer process, the reads on a reader thread
(the statements are ``store.runs``')."""

from __future__ import annotations

import sqlite3
from typing import Any

from csroute.store import runs
from csroute.store.base import StepRecord, WorkflowRun


def create_run(
    conn: sqlite3.Connection, workflow: str, key: str, trigger: bytes, now: float
) -> int | None:
    row = conn.execute(runs.CREATE_RUN, (workflow, key, trigger, now, now)).fetchone()
    return None if row is None else int(row[0])


def claim_run(conn: sqlite3.Connection, params: tuple[Any, ...]) -> bool:
    return conn.execute(runs.CLAIM_RUN, params).rowcount == 1


def record_step(conn: sqlite3.Connection, step: StepRecord) -> None:
    conn.execute(runs.RECORD_STEP, runs.step_params(step))


def finish_run(
    conn: sqlite3.Connection, id: int, state: str, error: str | None, now: float
) -> None:
    conn.execute(runs.FINISH_RUN, (state, error, now, id))


def retry_run(conn: sqlite3.Connection, id: int, now: float) -> bool:
    return conn.execute(runs.RETRY_RUN, (now, id)).rowcount == 1


def workflow_run(conn: sqlite3.Connection, id: int) -> WorkflowRun | None:
    row = conn.execute(runs.RUN, (id,)).fetchone()
    if row is None:
        return None
    return runs.run_of(row, conn.execute(runs.STEPS, (id,)).fetchall())


def workflow_runs(
    conn: sqlite3.Connection, workflow: str, limit: int, before_id: int
) -> list[WorkflowRun]:
    return [runs.run_of(r) for r in conn.execute(runs.RUNS, (workflow, before_id, limit))]


def unfinished_runs(conn: sqlite3.Connection, now: float, limit: int) -> list[int]:
    return [int(id) for (id,) in conn.execute(runs.UNFINISHED, (now, limit))]
