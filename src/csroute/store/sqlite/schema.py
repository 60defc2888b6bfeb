"""Tables, indexes and connection settings of the SQLite store.

The log is one append-only table; everything else is small delivery state keyed by destination.
``seq`` is ``AUTOINCREMENT`` so it never goes back, even after pruning removed the newest
events: a reused seq would sit behind a cursor and never be delivered.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final, Literal

VERSION: Final = 6

_SCRIPT: Final = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    user_key TEXT NOT NULL,
    type TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL
);
-- Entries end with the rowid, so this orders each source's events by seq.
CREATE INDEX events_source ON events (source);

CREATE TABLE cursors (
    destination TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;

-- Held rows have next_at NULL; the head of each (destination, user_key) has it set.
CREATE TABLE pending (
    destination TEXT NOT NULL,
    seq INTEGER NOT NULL,
    user_key TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL,
    first_failed_at REAL,
    error TEXT,
    PRIMARY KEY (seq, destination)
) WITHOUT ROWID;
-- Keyed by seq first, so that pruning finds whether any destination still needs an event.
-- A user's run in seq order (the primary key closes every entry).
CREATE INDEX pending_user ON pending (destination, user_key);
-- Heads only, so held rows cost these two indexes nothing.
CREATE INDEX pending_due ON pending (destination, next_at) WHERE next_at IS NOT NULL;
CREATE INDEX pending_heads ON pending (destination, user_key) WHERE next_at IS NOT NULL;

CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    seq INTEGER NOT NULL,
    user_key TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    request BLOB,
    status INTEGER,
    response BLOB,
    created_at REAL NOT NULL
);
CREATE INDEX dead_letters_destination ON dead_letters (destination, id);
CREATE INDEX dead_letters_seq ON dead_letters (seq);

CREATE TABLE traits (
    destination TEXT NOT NULL,
    user_key TEXT NOT NULL,
    traits BLOB NOT NULL,
    PRIMARY KEY (destination, user_key)
) WITHOUT ROWID;

-- kind is delivered / filtered / rejected, and reason is set for filtered and rejected.
CREATE TABLE counters (
    destination TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (destination, kind, reason)
) WITHOUT ROWID;

-- Scratch row that ping() rewrites to prove a commit goes through.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
"""

_V2: Final = """
-- Users whose deletion was requested: their events up to upto_seq are not delivered.
CREATE TABLE forgotten (
    destination TEXT NOT NULL,
    user_key TEXT NOT NULL,
    upto_seq INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (destination, user_key)
) WITHOUT ROWID;
"""


_V3: Final = """
-- Custify polling triggers: per (trigger, scope), the newest timestamp handed on and the ids
-- handed on at exactly that timestamp (a JSON array).
CREATE TABLE trigger_cursors (
    trigger TEXT NOT NULL,
    scope TEXT NOT NULL,
    at TEXT NOT NULL,
    ids TEXT NOT NULL,
    PRIMARY KEY (trigger, scope)
) WITHOUT ROWID;

-- Records a trigger handed on, so a pushed record is not polled again (and vice versa).
CREATE TABLE trigger_handed_on (
    trigger TEXT NOT NULL,
    key TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (trigger, key)
) WITHOUT ROWID;
CREATE INDEX trigger_handed_on_at ON trigger_handed_on (at);
"""


_V4: Final = """
-- Workflow runs: one per (workflow, trigger record key), whatever the number of deliveries.
CREATE TABLE workflow_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow TEXT NOT NULL,
    key TEXT NOT NULL,
    trigger BLOB NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    error TEXT,
    owner TEXT,
    claimed_until REAL,
    UNIQUE (workflow, key)
);
CREATE INDEX workflow_runs_history ON workflow_runs (workflow, id);
CREATE INDEX workflow_runs_unfinished ON workflow_runs (id) WHERE state IN ('queued', 'running');

-- The steps of each run: input, output, error, attempts and timing.
CREATE TABLE workflow_steps (
    run_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at REAL NOT NULL,
    input BLOB,
    output BLOB,
    error TEXT,
    finished_at REAL,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
"""


_V5: Final = """
-- Events of accepted batches whose per-job outcome is still to be checked, one row per job
-- (idx is its position in the batch). Rows go when the check's outcome is recorded.
CREATE TABLE batch_jobs (
    destination TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    user_key TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_failed_at REAL,
    check_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (destination, batch_id, idx)
) WITHOUT ROWID;
CREATE INDEX batch_jobs_due ON batch_jobs (destination, check_at);
-- So that pruning keeps the events a check may still retry.
CREATE INDEX batch_jobs_seq ON batch_jobs (seq);
"""


_V6: Final = """
-- Who works each destination, and its fencing token: raised each time another worker takes the
-- destination over, so the writes of the one before are refused (see ``writes.lease``).
CREATE TABLE leases (
    destination TEXT NOT NULL,
    part_n INTEGER NOT NULL,
    part_k INTEGER NOT NULL,
    owner TEXT,
    token INTEGER NOT NULL,
    PRIMARY KEY (destination, part_n, part_k)
) WITHOUT ROWID;
"""


def _statements(script: str) -> list[str]:
    """A semicolon ends a statement only at a line end."""
    return [s.strip() for s in script.split(";\n") if s.strip()]


MIGRATIONS: Final = {
    1: _statements(_SCRIPT),
    2: _statements(_V2),
    3: _statements(_V3),
    4: _statements(_V4),
    5: _statements(_V5),
    6: _statements(_V6),
}
"""The statements that take the schema from version ``n - 1`` to ``n``."""


STATEMENT_CACHE: Final = 256
"""Prepared statements kept per connection: the writer's inserts alone take one for each row
count up to ``writer.MAX_STATEMENT_ROWS``."""


def connect(
    path: Path, *, synchronous: Literal["full", "normal"] | None = None
) -> sqlite3.Connection:
    """A connection in explicit-transaction mode; ``synchronous`` given means the writer.

    Readers are ``query_only`` so that a bug can never write past the writer process.
    """
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=STATEMENT_CACHE
    )
    conn.execute("PRAGMA busy_timeout = 5000")
    if synchronous is None:
        conn.execute("PRAGMA query_only = ON")
        return conn
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = " + {"full": "FULL", "normal": "NORMAL"}[synchronous])
    # Keep the WAL file from staying large after a burst once it has been checkpointed.
    conn.execute("PRAGMA journal_size_limit = 67108864")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema step by step; refuse one written by a newer version.

    The check runs under the write lock, so two processes opening a new file at once do not
    both try to create it.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > VERSION:
            raise RuntimeError(f"database schema version {version} is not supported ({VERSION})")
        for step in range(version + 1, VERSION + 1):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        # On a full disk SQLite has already rolled back: a ROLLBACK would fail and its error
        # ("no transaction is active") would hide the one that says what is wrong.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
