"""The delivery-state writes, each run by the writer process inside one transaction.

Lists of seqs and ids travel as one JSON array read with ``json_each``: a single statement
whatever the length, with no limit on bound parameters.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from typing import Final

import msgspec

from csroute.store.base import FORGOTTEN, UNVERIFIED, Fenced, Leases, Round

_UPSERT_RETRY: Final = """
INSERT INTO pending (destination, seq, user_key, attempts, next_at, first_failed_at, error)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (seq, destination) DO UPDATE SET
    user_key = excluded.user_key, attempts = excluded.attempts, next_at = excluded.next_at,
    first_failed_at = excluded.first_failed_at, error = excluded.error
"""

_INSERT_DEAD: Final = """
INSERT INTO dead_letters
    (destination, seq, user_key, attempts, error, request, status, response, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def _json(values: Iterable[int]) -> bytes:
    return msgspec.json.encode(list(values))


def record(conn: sqlite3.Connection, r: Round) -> set[str]:
    d = r.destination
    if r.token is not None:
        k, n = r.partition
        row = conn.execute(
            "SELECT token FROM leases WHERE destination = ? AND part_n = ? AND part_k = ?",
            (d, n, k),
        ).fetchone()
        if row is None or row[0] != r.token:
            raise Fenced.taken_over(d, n, [k])
    if r.cursor is not None:
        conn.execute(
            "INSERT INTO cursors (destination, seq) VALUES (?, ?)"
            " ON CONFLICT (destination) DO UPDATE SET seq = excluded.seq",
            (d, r.cursor),
        )
    done = r.done
    touched: set[str] = set()
    if done:
        touched.update(
            user
            for (user,) in conn.execute(
                "DELETE FROM pending WHERE destination = ?"
                " AND seq IN (SELECT value FROM json_each(?)) RETURNING user_key",
                (d, _json(done)),
            ).fetchall()
        )
    conn.executemany(
        _UPSERT_RETRY,
        [
            (d, x.seq, x.user_key, x.attempts, x.next_at, x.first_failed_at, x.error)
            for x in r.retry
        ],
    )
    conn.executemany(
        "INSERT INTO pending (destination, seq, user_key) VALUES (?, ?, ?)"
        " ON CONFLICT (seq, destination) DO NOTHING",
        [(d, seq, user) for seq, user in r.held],
    )
    conn.executemany(
        _INSERT_DEAD,
        [
            (d, x.seq, x.user_key, x.attempts, x.error, x.request, x.status, x.response, r.now)
            for x in r.dead
        ],
    )
    conn.executemany(
        "INSERT INTO traits (destination, user_key, traits) VALUES (?, ?, ?)"
        " ON CONFLICT (destination, user_key) DO UPDATE SET traits = excluded.traits",
        [(d, user, traits) for user, traits in r.traits.items()],
    )
    _record_batches(conn, r)
    _count(conn, r)
    touched.update(x.user_key for x in r.retry)
    touched.update(user for _, user in r.held)
    return restore_heads(conn, d, touched, r.now)


def _record_batches(conn: sqlite3.Connection, r: Round) -> None:
    """Sent batches in, checked ones out, postponed ones moved; nothing to do in most rounds."""
    if not (r.sent or r.checked or r.postponed):
        return
    d = r.destination
    conn.executemany(
        "INSERT INTO batch_jobs (destination, batch_id, idx, seq, user_key, attempts,"
        " first_failed_at, check_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                *(d, b.batch_id, idx, j.seq, j.user_key, j.attempts, j.first_failed_at),
                *(b.check_at, b.expires_at),
            )
            for b in r.sent
            for idx, j in enumerate(b.jobs)
        ],
    )
    conn.executemany(
        "DELETE FROM batch_jobs WHERE destination = ? AND batch_id = ?",
        [(d, batch_id) for batch_id in r.checked],
    )
    conn.executemany(
        "UPDATE batch_jobs SET check_at = ? WHERE destination = ? AND batch_id = ?",
        [(at, d, batch_id) for batch_id, at in r.postponed],
    )


def _count(conn: sqlite3.Connection, r: Round) -> None:
    counts = Counter(("filtered", reason) for _, reason in r.filtered)
    counts.update(("rejected", reason) for _, reason in r.rejected)
    counts["delivered", ""] = len(r.delivered) - r.unverified
    counts["delivered", UNVERIFIED] = r.unverified
    conn.executemany(
        "INSERT INTO counters (destination, kind, reason, n) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (destination, kind, reason) DO UPDATE SET n = n + excluded.n",
        [(r.destination, kind, reason, n) for (kind, reason), n in counts.items() if n],
    )


def restore_heads(
    conn: sqlite3.Connection, destination: str, users: Collection[str], now: float
) -> set[str]:
    """Make each user's lowest pending seq the head (due ``now`` unless it has a time already)
    and clear ``next_at`` on the rest; return the users that still have pending rows."""
    still: set[str] = set()
    for user in users:
        (head,) = conn.execute(
            "SELECT min(seq) FROM pending WHERE destination = ? AND user_key = ?",
            (destination, user),
        ).fetchone()
        if head is None:
            continue
        still.add(user)
        conn.execute(
            "UPDATE pending INDEXED BY pending_heads SET next_at = NULL"
            " WHERE destination = ? AND user_key = ? AND next_at IS NOT NULL AND seq <> ?",
            (destination, user, head),
        )
        conn.execute(
            "UPDATE pending SET next_at = ? WHERE destination = ? AND seq = ? AND next_at IS NULL",
            (now, destination, head),
        )
    return still


def replay(conn: sqlite3.Connection, ids: Collection[int], now: float) -> int:
    rows = conn.execute(
        "DELETE FROM dead_letters WHERE id IN (SELECT value FROM json_each(?))"
        " RETURNING destination, seq, user_key",
        (_json(ids),),
    ).fetchall()
    conn.executemany(
        "INSERT INTO pending (destination, seq, user_key, next_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (seq, destination) DO NOTHING",
        [(d, seq, user, now) for d, seq, user in rows],
    )
    by_destination: dict[str, set[str]] = {}
    for d, _, user in rows:
        by_destination.setdefault(d, set()).add(user)
    for d, users in by_destination.items():
        restore_heads(conn, d, users, now)
    return len(rows)


def discard(conn: sqlite3.Connection, ids: Collection[int]) -> int:
    return conn.execute(
        "DELETE FROM dead_letters WHERE id IN (SELECT value FROM json_each(?))", (_json(ids),)
    ).rowcount


PRUNE_CHUNK: Final = 5000
"""Events deleted per transaction, so that pruning never holds up appends for long."""


def prune_chunk(conn: sqlite3.Connection, after: int, ceiling: int) -> tuple[int, int]:
    """Delete the next chunk of unreferenced events in ``(after, ceiling]``.

    Returns how many went and where the chunk ended, so the next one starts past events kept
    for a dead letter or a pending row instead of looking at them again.
    """
    row = conn.execute(
        "SELECT seq FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1 OFFSET ?",
        (after, ceiling, PRUNE_CHUNK - 1),
    ).fetchone()
    end = ceiling if row is None else int(row[0])
    deleted = conn.execute(
        "DELETE FROM events WHERE seq > ? AND seq <= ?"
        " AND NOT EXISTS (SELECT 1 FROM dead_letters AS d WHERE d.seq = events.seq)"
        " AND NOT EXISTS (SELECT 1 FROM pending AS p WHERE p.seq = events.seq)"
        " AND NOT EXISTS (SELECT 1 FROM batch_jobs AS b WHERE b.seq = events.seq)",
        (after, end),
    ).rowcount
    return deleted, end


def ping(conn: sqlite3.Connection, now: float) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('pinged_at', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (now,),
    )


def forget(conn: sqlite3.Connection, destination: str, user_key: str, now: float) -> int:
    (upto,) = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
    conn.execute(
        "INSERT INTO forgotten (destination, user_key, upto_seq, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (destination, user_key) DO UPDATE"
        " SET upto_seq = excluded.upto_seq, at = excluded.at",
        (destination, user_key, upto, now),
    )
    dropped = conn.execute(
        "DELETE FROM pending WHERE destination = ? AND user_key = ?", (destination, user_key)
    ).rowcount
    conn.execute(
        "DELETE FROM dead_letters WHERE destination = ? AND user_key = ?", (destination, user_key)
    )
    conn.execute(
        "DELETE FROM traits WHERE destination = ? AND user_key = ?", (destination, user_key)
    )
    if dropped:
        conn.execute(
            "INSERT INTO counters (destination, kind, reason, n) VALUES (?, 'filtered', ?, ?)"
            " ON CONFLICT (destination, kind, reason) DO UPDATE SET n = n + excluded.n",
            (destination, FORGOTTEN, dropped),
        )
    return int(dropped)


def save_trigger_cursor(
    conn: sqlite3.Connection, trigger: str, scope: str, at: str, ids: str
) -> None:
    conn.execute(
        "INSERT INTO trigger_cursors (trigger, scope, at, ids) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (trigger, scope) DO UPDATE SET at = excluded.at, ids = excluded.ids",
        (trigger, scope, at, ids),
    )


def reset_trigger(conn: sqlite3.Connection, trigger: str) -> int:
    conn.execute("DELETE FROM trigger_handed_on WHERE trigger = ?", (trigger,))
    return int(conn.execute("DELETE FROM trigger_cursors WHERE trigger = ?", (trigger,)).rowcount)


def mark_handed_on(
    conn: sqlite3.Connection, trigger: str, keys: list[str], now: float, keep_s: float
) -> None:
    conn.execute("DELETE FROM trigger_handed_on WHERE at < ?", (now - keep_s,))
    conn.executemany(
        "INSERT INTO trigger_handed_on (trigger, key, at) VALUES (?, ?, ?)"
        " ON CONFLICT (trigger, key) DO UPDATE SET at = excluded.at",
        [(trigger, key, now) for key in keys],
    )


def lease(conn: sqlite3.Connection, destination: str, n: int, owner: str) -> Leases:
    """One worker process per file: the caller gets every partition at once (a worker
    restarted after a crash must not wait for its old leases), and when it was not their
    holder, their tokens go up, so a previous worker still running (stalled, or started by
    mistake) has its next write refused. A renewal writes nothing: on a full disk it still
    succeeds, and the worker keeps what it could not record yet."""
    owners = dict(
        conn.execute(
            "SELECT part_k, owner FROM leases WHERE destination = ? AND part_n = ?",
            (destination, n),
        ).fetchall()
    )
    conn.executemany(
        "INSERT INTO leases (destination, part_n, part_k, owner, token) VALUES (?, ?, ?, ?, 1)"
        " ON CONFLICT (destination, part_n, part_k) DO UPDATE SET owner = excluded.owner,"
        " token = token + 1",
        [(destination, n, k, owner) for k in range(n) if owners.get(k) != owner],
    )
    tokens = dict(
        conn.execute(
            "SELECT part_k, token FROM leases WHERE destination = ? AND part_n = ?",
            (destination, n),
        ).fetchall()
    )
    return Leases(list(range(n)), 1, tokens)


def release(
    conn: sqlite3.Connection, destination: str, n: int, owner: str, held: Mapping[int, int]
) -> None:
    released = conn.executemany(
        "UPDATE leases SET owner = NULL"
        " WHERE destination = ? AND part_n = ? AND part_k = ? AND owner = ? AND token = ?",
        [(destination, n, k, owner, token) for k, token in held.items()],
    ).rowcount
    if released != len(held):
        raise Fenced.taken_over(destination, n, held)
