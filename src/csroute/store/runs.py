"""The workflow-run statements, one home for both backends.

They are written with SQLite's ``?`` placeholders; the PostgreSQL backend runs them through
``postgres_sql``. Each backend keeps only its table definitions (``schema``) and how it runs a
statement. See ``base.Store``'s "workflow runs" methods for what each one means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, cast

from csroute.store.base import RunState, StepRecord, StepState, WorkflowRun

_RUN_COLUMNS: Final = "id, workflow, key, trigger, state, created_at, updated_at, error, owner"
_STEP_COLUMNS: Final = (
    "run_id, idx, name, state, attempts, started_at, input, output, error, finished_at"
)

CREATE_RUN: Final = """
INSERT INTO workflow_runs (workflow, key, trigger, state, created_at, updated_at)
VALUES (?, ?, ?, 'queued', ?, ?)
ON CONFLICT (workflow, key) DO NOTHING
RETURNING id
"""

CLAIM_RUN: Final = """
UPDATE workflow_runs SET state = 'running', owner = ?, claimed_until = ?, updated_at = ?
WHERE id = ? AND (state = 'queued' OR (state = 'running' AND (claimed_until < ? OR owner = ?)))
"""

RECORD_STEP: Final = f"""
INSERT INTO workflow_steps ({_STEP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, idx) DO UPDATE SET
    name = excluded.name, state = excluded.state, attempts = excluded.attempts,
    started_at = excluded.started_at, input = excluded.input, output = excluded.output,
    error = excluded.error, finished_at = excluded.finished_at
"""

FINISH_RUN: Final = """
UPDATE workflow_runs SET state = ?, error = ?, updated_at = ?, owner = NULL, claimed_until = NULL
WHERE id = ?
"""

RETRY_RUN: Final = """
UPDATE workflow_runs SET state = 'queued', error = NULL, updated_at = ?
WHERE id = ? AND state = 'failed'
"""

RUN: Final = f"SELECT {_RUN_COLUMNS} FROM workflow_runs WHERE id = ?"
STEPS: Final = f"SELECT {_STEP_COLUMNS} FROM workflow_steps WHERE run_id = ? ORDER BY idx"
RUNS: Final = f"""
SELECT {_RUN_COLUMNS} FROM workflow_runs WHERE workflow = ? AND id < ? ORDER BY id DESC LIMIT ?
"""
UNFINISHED: Final = """
SELECT id FROM workflow_runs
WHERE state = 'queued' OR (state = 'running' AND claimed_until < ?)
ORDER BY id LIMIT ?
"""

NO_ID: Final = 2**62
"""``before_id`` when none is given: above every run id."""


def postgres_sql(statement: str) -> str:
    """A statement above with PostgreSQL's placeholders (none of them holds a literal ``?``)."""
    return statement.replace("?", "%s")


def claim_params(id: int, owner: str, now: float, ttl_s: float) -> tuple[Any, ...]:
    return (owner, now + ttl_s, now, id, now, owner)


def step_params(step: StepRecord) -> tuple[Any, ...]:
    return (
        step.run_id,
        step.index,
        step.name,
        step.state,
        step.attempts,
        step.started_at,
        step.input,
        step.output,
        step.error,
        step.finished_at,
    )


def run_of(row: Sequence[Any], steps: Sequence[Sequence[Any]] = ()) -> WorkflowRun:
    id, workflow, key, trigger, state, created_at, updated_at, error, owner = row
    return WorkflowRun(
        int(id),
        workflow,
        key,
        bytes(trigger),
        cast(RunState, state),
        float(created_at),
        float(updated_at),
        error,
        owner,
        tuple(step_of(s) for s in steps),
    )


def step_of(row: Sequence[Any]) -> StepRecord:
    run_id, idx, name, state, attempts, started_at, input, output, error, finished_at = row
    return StepRecord(
        int(run_id),
        int(idx),
        name,
        cast(StepState, state),
        int(attempts),
        float(started_at),
        None if input is None else bytes(input),
        None if output is None else bytes(output),
        error,
        None if finished_at is None else float(finished_at),
    )
