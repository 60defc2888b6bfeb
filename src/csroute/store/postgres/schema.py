"""Tables, indexes and migrations of the PostgreSQL store.

The same model as SQLite's (see ``csroute.store.sqlite.schema``), plus what sharing one
database between many processes needs:

* ``events.part``: the user's part (``base.part_of``), so a worker reads only its partitions;
* ``cursors`` per (destination, partition): each partition of a destination moves on its own;
* ``counters.stream``: each partition counts in rows of its own, so that workers committing
  rounds of the same destination never wait on each other's counter row;
* ``leases`` and ``workers``: which worker process delivers which partition, until when;
  ``leases.token`` is the partition's fencing token, raised each time the lease changes hands.

Migrations are numbered steps recorded in ``csroute_schema``; ``migrate`` applies the missing
ones under an advisory lock, so any number of processes may start (or run ``csroute db
migrate``) at once and exactly one of them does the work.
"""

from __future__ import annotations

from typing import Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]

VERSION: Final = 5

MIGRATE_LOCK: Final = 7_370_001
"""Advisory lock held while migrating (keys are constants unlikely to clash with others')."""
APPEND_LOCK: Final = 7_370_002
"""Advisory lock every append transaction holds until it commits: see ``appender``."""
PRUNE_LOCK: Final = 7_370_003
"""Advisory lock a prune chunk holds, so that workers pruning at once do not collide."""

_V1: Final = """
CREATE TABLE events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL,
    user_key text NOT NULL,
    type text NOT NULL,
    payload bytea NOT NULL,
    received_at double precision NOT NULL,
    part smallint NOT NULL
);
-- A source's events in seq order: what a worker's page walks.
CREATE INDEX events_source ON events (source, seq);

CREATE TABLE cursors (
    destination text NOT NULL,
    part_n integer NOT NULL,
    part_k integer NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (destination, part_n, part_k)
);

-- Held rows have next_at NULL; the head of each (destination, user_key) has it set.
CREATE TABLE pending (
    destination text NOT NULL,
    seq bigint NOT NULL,
    user_key text NOT NULL,
    part smallint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_at double precision,
    first_failed_at double precision,
    error text,
    PRIMARY KEY (seq, destination)
);
CREATE INDEX pending_user ON pending (destination, user_key, seq);
CREATE INDEX pending_due ON pending (destination, next_at) WHERE next_at IS NOT NULL;
CREATE INDEX pending_heads ON pending (destination, user_key) WHERE next_at IS NOT NULL;

CREATE TABLE dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination text NOT NULL,
    seq bigint NOT NULL,
    user_key text NOT NULL,
    attempts integer NOT NULL,
    error text NOT NULL,
    request bytea,
    status integer,
    response bytea,
    created_at double precision NOT NULL
);
CREATE INDEX dead_letters_destination ON dead_letters (destination, id);
CREATE INDEX dead_letters_seq ON dead_letters (seq);

CREATE TABLE traits (
    destination text NOT NULL,
    user_key text NOT NULL,
    traits bytea NOT NULL,
    PRIMARY KEY (destination, user_key)
);

-- kind is delivered / filtered / rejected, reason is set for filtered and rejected.
CREATE TABLE counters (
    destination text NOT NULL,
    kind text NOT NULL,
    reason text NOT NULL,
    stream integer NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (destination, kind, reason, stream)
);

CREATE TABLE forgotten (
    destination text NOT NULL,
    user_key text NOT NULL,
    upto_seq bigint NOT NULL,
    at double precision NOT NULL,
    PRIMARY KEY (destination, user_key)
);

-- owner is NULL for a partition nobody holds.
CREATE TABLE leases (
    destination text NOT NULL,
    part_n integer NOT NULL,
    part_k integer NOT NULL,
    owner text,
    expires_at double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (destination, part_n, part_k)
);

CREATE TABLE workers (
    destination text NOT NULL,
    owner text NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (destination, owner)
);

-- Scratch row that ping() rewrites to prove a commit goes through.
CREATE TABLE meta (
    key text PRIMARY KEY,
    value double precision
);
"""


_V2: Final = """
-- Custify polling triggers: per (trigger, scope), the newest timestamp handed on and the ids
-- handed on at exactly that timestamp (a JSON array).
CREATE TABLE trigger_cursors (
    trigger text NOT NULL,
    scope text NOT NULL,
    at text NOT NULL,
    ids text NOT NULL,
    PRIMARY KEY (trigger, scope)
);

-- Records a trigger handed on, so a pushed record is not polled again (and vice versa).
CREATE TABLE trigger_handed_on (
    trigger text NOT NULL,
    key text NOT NULL,
    at double precision NOT NULL,
    PRIMARY KEY (trigger, key)
);
CREATE INDEX trigger_handed_on_at ON trigger_handed_on (at);
"""


_V3: Final = """
-- Workflow runs: one per (workflow, trigger record key), whatever the number of deliveries.
CREATE TABLE workflow_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow text NOT NULL,
    key text NOT NULL,
    trigger bytea NOT NULL,
    state text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    error text,
    owner text,
    claimed_until double precision,
    UNIQUE (workflow, key)
);
CREATE INDEX workflow_runs_history ON workflow_runs (workflow, id);
CREATE INDEX workflow_runs_unfinished ON workflow_runs (id) WHERE state IN ('queued', 'running');

-- The steps of each run: input, output, error, attempts and timing.
CREATE TABLE workflow_steps (
    run_id bigint NOT NULL,
    idx integer NOT NULL,
    name text NOT NULL,
    state text NOT NULL,
    attempts integer NOT NULL,
    started_at double precision NOT NULL,
    input bytea,
    output bytea,
    error text,
    finished_at double precision,
    PRIMARY KEY (run_id, idx)
);
"""


_V4: Final = """
-- Events of accepted batches whose per-job outcome is still to be checked, one row per job
-- (idx is its position in the batch). Rows go when the check's outcome is recorded.
CREATE TABLE batch_jobs (
    destination text NOT NULL,
    batch_id text NOT NULL,
    idx integer NOT NULL,
    seq bigint NOT NULL,
    user_key text NOT NULL,
    part smallint NOT NULL,
    attempts integer NOT NULL,
    first_failed_at double precision,
    check_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (destination, batch_id, idx)
);
CREATE INDEX batch_jobs_due ON batch_jobs (destination, check_at);
-- So that pruning keeps the events a check may still retry.
CREATE INDEX batch_jobs_seq ON batch_jobs (seq);
"""


PART_INDEX: Final = "CREATE INDEX events_source_part ON events (source, part, seq)"
"""A partition's page reads its parts' ranges only (``events_source`` would read every
partition's events and keep one in n). Migration 5 builds it in its transaction: appends wait
for it (docs/operations.md says how long)."""

_V5: Final = f"""
-- Fencing: each takeover of a partition raises its token, and a worker's writes carry the
-- token of its lease, so those of a worker whose lease was taken over are refused.
ALTER TABLE leases ADD COLUMN token bigint NOT NULL DEFAULT 0;

{PART_INDEX};
"""


def _statements(script: str) -> list[str]:
    """A semicolon ends a statement only at a line end."""
    return [s.strip() for s in script.split(";\n") if s.strip()]


MIGRATIONS: Final = {
    1: _statements(_V1),
    2: _statements(_V2),
    3: _statements(_V3),
    4: _statements(_V4),
    5: _statements(_V5),
}
"""The statements that take the schema from version ``n - 1`` to ``n``."""


async def version(conn: Conn) -> int:
    """The schema version of the database (0 when csroute never created it)."""
    cur = await conn.execute("SELECT to_regclass('csroute_schema') IS NOT NULL")
    row = await cur.fetchone()
    if row is None or not row[0]:
        return 0
    cur = await conn.execute("SELECT max(version) FROM csroute_schema")
    row = await cur.fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


async def migrate(conn: Conn) -> tuple[int, int]:
    """Create or upgrade the schema step by step; refuse one written by a newer version.

    ``conn`` is in autocommit mode. Returns the versions before and after. Each step commits
    with its version row, so an interrupted migration resumes at the step it was in.
    """
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        before = await version(conn)
        if before > VERSION:
            raise RuntimeError(f"database schema version {before} is not supported ({VERSION})")
        for step in range(before + 1, VERSION + 1):
            async with conn.transaction():
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS csroute_schema"
                    " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                for statement in MIGRATIONS[step]:
                    await conn.execute(statement.encode())
                await conn.execute("INSERT INTO csroute_schema (version) VALUES (%s)", (step,))
        return before, VERSION
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
