"""The read queries, each run inside one read transaction on a reader connection.

Every query is bounded by a ``LIMIT`` or an index range, so memory stays flat however long the
log or the queue of pending events grows.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from collections.abc import Collection
from typing import Final

import msgspec

from csroute.events.model import LoggedEvent
from csroute.store.base import (
    UNVERIFIED,
    BatchCheck,
    DeadLetter,
    DestinationStats,
    Page,
    PendingEvent,
)

# One query per source walks the (source, seq) index in order and stops at the limit; a single
# ``source IN (...)`` query would have to sort every match of the backlog to find the first few.
_SOURCE_PAGE: Final = """
SELECT seq, source, user_key, type, payload FROM events
WHERE source = ? AND seq > ? ORDER BY seq LIMIT ?
"""

_DUE_HEADS: Final = """
SELECT user_key FROM pending
WHERE destination = ? AND next_at <= ? ORDER BY next_at, seq LIMIT ?
"""

_RUN: Final = """
SELECT p.seq, e.source, e.user_key, e.type, e.payload, p.attempts, p.first_failed_at
FROM pending AS p JOIN events AS e ON e.seq = p.seq
WHERE p.destination = ? AND p.user_key = ? ORDER BY p.seq LIMIT ?
"""

_DUE_BATCHES: Final = """
SELECT batch_id, min(expires_at) FROM batch_jobs
WHERE destination = ? AND check_at <= ? GROUP BY batch_id ORDER BY min(check_at), batch_id LIMIT ?
"""

_BATCH_JOBS: Final = """
SELECT b.seq, e.source, e.user_key, e.type, e.payload, b.attempts, b.first_failed_at
FROM batch_jobs AS b JOIN events AS e ON e.seq = b.seq
WHERE b.destination = ? AND b.batch_id = ? ORDER BY b.idx
"""

_DEAD_LETTER: Final = """
SELECT d.seq, d.user_key, d.attempts, d.error, d.request, d.status, d.response,
       d.id, d.destination, d.created_at, e.payload
FROM dead_letters AS d JOIN events AS e ON e.seq = d.seq
"""


def cursor(conn: sqlite3.Connection, destination: str) -> int:
    row = conn.execute("SELECT seq FROM cursors WHERE destination = ?", (destination,)).fetchone()
    return 0 if row is None else int(row[0])


def prune_ceiling(
    conn: sqlite3.Connection, destinations: Collection[str], received_before: float | None
) -> int:
    """The highest seq every one of ``destinations`` has taken (0 when there are none), and
    below the first event received at or after ``received_before``."""
    ceiling = min((cursor(conn, d) for d in destinations), default=0)
    if received_before is not None and ceiling:
        # In seq order, so this reads only the old events that are about to go anyway.
        row = conn.execute(
            "SELECT seq FROM events WHERE seq <= ? AND received_at >= ? ORDER BY seq LIMIT 1",
            (ceiling, received_before),
        ).fetchone()
        if row is not None:
            ceiling = int(row[0]) - 1
    return ceiling


def read_new(
    conn: sqlite3.Connection,
    destination: str,
    sources: Collection[str],
    limit: int,
    after: int | None = None,
) -> Page:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if after is None:
        after = cursor(conn, destination)
    per_source = [
        conn.execute(_SOURCE_PAGE, (source, after, limit)).fetchall() for source in set(sources)
    ]
    events = [LoggedEvent(*row) for row in itertools.islice(heapq.merge(*per_source), limit)]
    if len(events) == limit:
        return Page(events, events[-1].seq)
    (end,) = conn.execute("SELECT max(seq) FROM events").fetchone()
    return Page(events, max(after, end or 0))


def due(conn: sqlite3.Connection, destination: str, now: float, limit: int) -> list[PendingEvent]:
    """Runs in due order; the last one is cut short rather than left out when it does not fit,
    so that a user with more held events than ``limit`` still makes progress."""
    out: list[PendingEvent] = []
    for (user,) in conn.execute(_DUE_HEADS, (destination, now, limit)).fetchall():
        remaining = limit - len(out)
        if remaining <= 0:
            break
        out.extend(
            PendingEvent(LoggedEvent(*row[:5]), row[5], row[6])
            for row in conn.execute(_RUN, (destination, user, remaining))
        )
    return out


def batch_checks(
    conn: sqlite3.Connection, destination: str, now: float, limit: int
) -> list[BatchCheck]:
    return [
        BatchCheck(
            batch_id,
            [
                PendingEvent(LoggedEvent(*row[:5]), row[5], row[6])
                for row in conn.execute(_BATCH_JOBS, (destination, batch_id))
            ],
            expires_at,
        )
        for batch_id, expires_at in conn.execute(_DUE_BATCHES, (destination, now, limit)).fetchall()
    ]


def blocked_users(conn: sqlite3.Connection, destination: str) -> set[str]:
    # Every user with pending rows has exactly one head, so the small heads index suffices.
    rows = conn.execute(
        "SELECT user_key FROM pending INDEXED BY pending_heads"
        " WHERE destination = ? AND next_at IS NOT NULL",
        (destination,),
    )
    return {user for (user,) in rows}


def traits(conn: sqlite3.Connection, destination: str, users: Collection[str]) -> dict[str, bytes]:
    rows = conn.execute(
        "SELECT user_key, traits FROM traits WHERE destination = ?"
        " AND user_key IN (SELECT value FROM json_each(?))",
        (destination, msgspec.json.encode(list(users))),
    )
    return dict(rows)


def dead_letters(
    conn: sqlite3.Connection, destination: str | None, after_id: int, limit: int
) -> list[DeadLetter]:
    if destination is None:
        rows = conn.execute(
            _DEAD_LETTER + "WHERE d.id > ? ORDER BY d.id LIMIT ?", (after_id, limit)
        )
    else:
        rows = conn.execute(
            _DEAD_LETTER + "WHERE d.destination = ? AND d.id > ? ORDER BY d.id LIMIT ?",
            (destination, after_id, limit),
        )
    return [DeadLetter(*row) for row in rows]


def dead_letter(conn: sqlite3.Connection, id: int) -> DeadLetter | None:
    row = conn.execute(_DEAD_LETTER + "WHERE d.id = ?", (id,)).fetchone()
    return None if row is None else DeadLetter(*row)


def stats(conn: sqlite3.Connection, destination: str, sources: Collection[str]) -> DestinationStats:
    totals = {"delivered": 0, "filtered": 0, "rejected": 0}
    by_reason: dict[str, dict[str, int]] = {"filtered": {}, "rejected": {}, "delivered": {}}
    for kind, reason, n in conn.execute(
        "SELECT kind, reason, n FROM counters WHERE destination = ?", (destination,)
    ):
        totals[kind] += n
        if kind in by_reason:
            by_reason[kind][reason] = n
    (dead,) = conn.execute(
        "SELECT count(*) FROM dead_letters WHERE destination = ?", (destination,)
    ).fetchone()
    (pending,) = conn.execute(
        "SELECT count(*) FROM pending WHERE destination = ?", (destination,)
    ).fetchone()
    (retrying,) = conn.execute(
        "SELECT count(*) FROM pending INDEXED BY pending_heads"
        " WHERE destination = ? AND next_at IS NOT NULL",
        (destination,),
    ).fetchone()
    retrying_by_error = dict(
        conn.execute(
            "SELECT coalesce(error, ''), count(*) FROM pending INDEXED BY pending_heads"
            " WHERE destination = ? AND next_at IS NOT NULL GROUP BY 1 ORDER BY 2 DESC",
            (destination,),
        ).fetchall()
    )
    dead_by_error = dict(
        conn.execute(
            "SELECT error, count(*) FROM dead_letters WHERE destination = ?"
            " GROUP BY error ORDER BY 2 DESC",
            (destination,),
        ).fetchall()
    )
    (sent,) = conn.execute(
        "SELECT count(DISTINCT seq) FROM batch_jobs WHERE destination = ?", (destination,)
    ).fetchone()
    after = cursor(conn, destination)
    backlog = sum(
        conn.execute(
            "SELECT count(*) FROM events WHERE source = ? AND seq > ?", (source, after)
        ).fetchone()[0]
        for source in set(sources)
    )
    return DestinationStats(
        dead=dead,
        retrying=retrying,
        held=pending - retrying,
        backlog=backlog,
        filtered_by_reason=by_reason["filtered"],
        rejected_by_reason=by_reason["rejected"],
        retrying_by_error=retrying_by_error,
        dead_by_error=dead_by_error,
        sent=sent,
        unverified=by_reason["delivered"].get(UNVERIFIED, 0),
        **totals,
    )


def forgotten(conn: sqlite3.Connection, destination: str) -> dict[str, int]:
    return dict(
        conn.execute(
            "SELECT user_key, upto_seq FROM forgotten WHERE destination = ?", (destination,)
        ).fetchall()
    )


def trigger_cursors(conn: sqlite3.Connection, trigger: str) -> dict[str, tuple[str, str]]:
    rows = conn.execute(
        "SELECT scope, at, ids FROM trigger_cursors WHERE trigger = ?", (trigger,)
    ).fetchall()
    return {scope: (at, ids) for scope, at, ids in rows}


def handed_on(conn: sqlite3.Connection, trigger: str, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT key FROM trigger_handed_on WHERE trigger = ? AND key IN ({marks})",
            (trigger, *chunk),
        ).fetchall()
        found.update(key for (key,) in rows)
    return found
