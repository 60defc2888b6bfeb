"""The delivery-state writes, each run inside one transaction (the caller opens it).

Lists of seqs, ids and users travel as arrays, so each statement runs once whatever the length.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping
from typing import Final

from csroute.store.base import FORGOTTEN, UNVERIFIED, Fenced, Leases, Round, part_of
from csroute.store.postgres.schema import PRUNE_LOCK, Conn

_UPSERT_RETRY: Final = """
INSERT INTO pending
    (destination, seq, user_key, part, attempts, next_at, first_failed_at, error)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (seq, destination) DO UPDATE SET
    user_key = excluded.user_key, attempts = excluded.attempts, next_at = excluded.next_at,
    first_failed_at = excluded.first_failed_at, error = excluded.error
"""

_INSERT_HELD: Final = """
INSERT INTO pending (destination, seq, user_key, part, next_at) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (seq, destination) DO NOTHING
"""

_INSERT_DEAD: Final = """
INSERT INTO dead_letters
    (destination, seq, user_key, attempts, error, request, status, response, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""

_COUNT: Final = """
INSERT INTO counters (destination, kind, reason, stream, n) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (destination, kind, reason, stream) DO UPDATE SET n = counters.n + excluded.n
"""

# Each user's lowest pending seq becomes the head (due ``now`` unless it has a time already),
# the others lose their time; only rows that change are written.
_RESTORE_HEADS: Final = """
WITH heads AS (
    SELECT user_key, min(seq) AS head FROM pending
    WHERE destination = %(d)s AND user_key = ANY(%(users)s) GROUP BY user_key
), changed AS (
    UPDATE pending AS p
    SET next_at = CASE WHEN p.seq = h.head THEN %(now)s END
    FROM heads AS h
    WHERE p.destination = %(d)s AND p.user_key = h.user_key
      AND ((p.seq = h.head AND p.next_at IS NULL) OR (p.seq <> h.head AND p.next_at IS NOT NULL))
)
SELECT user_key FROM heads
"""


async def record(conn: Conn, r: Round) -> set[str]:
    d = r.destination
    k, n = r.partition
    if r.token is not None:
        await _fence(conn, d, n, k, r.token)
    if r.cursor is not None:
        await conn.execute(
            "INSERT INTO cursors (destination, part_n, part_k, seq) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (destination, part_n, part_k) DO UPDATE SET seq = excluded.seq",
            (d, n, k, r.cursor),
        )
        await _forget_old_splits(conn, d, n)
    done = r.done
    touched: set[str] = set()
    async with conn.cursor() as cur:
        if done:
            await cur.execute(
                "DELETE FROM pending WHERE destination = %s AND seq = ANY(%s) RETURNING user_key",
                (d, done),
            )
            touched.update(user for (user,) in await cur.fetchall())
        await cur.executemany(
            _UPSERT_RETRY,
            [
                (
                    d,
                    x.seq,
                    x.user_key,
                    part_of(x.user_key),
                    x.attempts,
                    x.next_at,
                    x.first_failed_at,
                    x.error,
                )
                for x in r.retry
            ],
        )
        await cur.executemany(
            _INSERT_HELD, [(d, seq, user, part_of(user), None) for seq, user in r.held]
        )
        await cur.executemany(
            _INSERT_DEAD,
            [
                (d, x.seq, x.user_key, x.attempts, x.error, x.request, x.status, x.response, r.now)
                for x in r.dead
            ],
        )
        await cur.executemany(
            "INSERT INTO traits (destination, user_key, traits) VALUES (%s, %s, %s)"
            " ON CONFLICT (destination, user_key) DO UPDATE SET traits = excluded.traits",
            [(d, user, traits) for user, traits in r.traits.items()],
        )
    await _record_batches(conn, r)
    await _count(conn, r)
    touched.update(x.user_key for x in r.retry)
    touched.update(user for _, user in r.held)
    return await restore_heads(conn, d, touched, r.now)


async def _fence(conn: Conn, destination: str, n: int, k: int, token: int) -> None:
    """Refuse the transaction unless the partition's lease still has ``token``.

    ``FOR SHARE`` keeps the row until the commit: a takeover (an ``UPDATE``) either committed
    before, and the token read here is the new one, or waits until this commit, or skips the
    row (``SKIP LOCKED``) and takes it at its next try. A takeover never lands in between.
    """
    cur = await conn.execute(
        "SELECT token FROM leases WHERE destination = %s AND part_n = %s AND part_k = %s FOR SHARE",
        (destination, n, k),
    )
    row = await cur.fetchone()
    if row is None or int(row[0]) != token:
        raise Fenced.taken_over(destination, n, [k])


async def _forget_old_splits(conn: Conn, destination: str, n: int) -> None:
    """Once every partition of the current split has a cursor, the cursors of an earlier split
    (before the operator changed the number of partitions) no longer hold pruning back."""
    await conn.execute(
        "DELETE FROM cursors WHERE destination = %s AND part_n <> %s"
        " AND (SELECT count(*) FROM cursors WHERE destination = %s AND part_n = %s) = %s",
        (destination, n, destination, n, n),
    )


async def _record_batches(conn: Conn, r: Round) -> None:
    """Sent batches in, checked ones out, postponed ones moved; nothing to do in most rounds."""
    if not (r.sent or r.checked or r.postponed):
        return
    d = r.destination
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO batch_jobs (destination, batch_id, idx, seq, user_key, part, attempts,"
            " first_failed_at, check_at, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    *(d, b.batch_id, idx, j.seq, j.user_key, part_of(j.user_key), j.attempts),
                    *(j.first_failed_at, b.check_at, b.expires_at),
                )
                for b in r.sent
                for idx, j in enumerate(b.jobs)
            ],
        )
        if r.checked:
            await cur.execute(
                "DELETE FROM batch_jobs WHERE destination = %s AND batch_id = ANY(%s)",
                (d, r.checked),
            )
        await cur.executemany(
            "UPDATE batch_jobs SET check_at = %s WHERE destination = %s AND batch_id = %s",
            [(at, d, batch_id) for batch_id, at in r.postponed],
        )


async def _count(conn: Conn, r: Round) -> None:
    counts = Counter(("filtered", reason) for _, reason in r.filtered)
    counts.update(("rejected", reason) for _, reason in r.rejected)
    counts["delivered", ""] = len(r.delivered) - r.unverified
    counts["delivered", UNVERIFIED] = r.unverified
    rows = [
        (r.destination, kind, reason, r.partition[0], c) for (kind, reason), c in counts.items()
    ]
    async with conn.cursor() as cur:
        await cur.executemany(_COUNT, [row for row in rows if row[-1]])


async def restore_heads(
    conn: Conn, destination: str, users: Collection[str], now: float
) -> set[str]:
    """Make each user's lowest pending seq the head and return the users still pending."""
    if not users:
        return set()
    cur = await conn.execute(_RESTORE_HEADS, {"d": destination, "users": list(users), "now": now})
    return {user for (user,) in await cur.fetchall()}


async def replay(conn: Conn, ids: Collection[int], now: float) -> int:
    cur = await conn.execute(
        "DELETE FROM dead_letters WHERE id = ANY(%s) RETURNING destination, seq, user_key",
        (list(ids),),
    )
    rows = await cur.fetchall()
    async with conn.cursor() as c:
        await c.executemany(
            _INSERT_HELD, [(d, seq, user, part_of(user), now) for d, seq, user in rows]
        )
    by_destination: dict[str, set[str]] = {}
    for d, _, user in rows:
        by_destination.setdefault(d, set()).add(user)
    for d, users in by_destination.items():
        await restore_heads(conn, d, users, now)
    return len(rows)


async def discard(conn: Conn, ids: Collection[int]) -> int:
    cur = await conn.execute("DELETE FROM dead_letters WHERE id = ANY(%s)", (list(ids),))
    return cur.rowcount


PRUNE_CHUNK: Final = 5000
"""Events deleted per transaction, so that pruning never holds row locks or vacuum back long."""


async def prune_chunk(conn: Conn, after: int, ceiling: int) -> tuple[int, int]:
    """Delete the next chunk of unreferenced events in ``(after, ceiling]``.

    Returns how many went and where the chunk ended. Appends never wait: they insert new rows
    above ``ceiling`` and take no lock a delete holds. Another worker pruning at the same time
    skips its chunk (``PRUNE_LOCK``) instead of queueing on the same rows.
    """
    cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (PRUNE_LOCK,))
    row = await cur.fetchone()
    if row is None or not row[0]:
        return 0, ceiling
    cur = await conn.execute(
        "SELECT seq FROM events WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT 1 OFFSET %s",
        (after, ceiling, PRUNE_CHUNK - 1),
    )
    row = await cur.fetchone()
    end = ceiling if row is None else int(row[0])
    cur = await conn.execute(
        "DELETE FROM events WHERE seq > %s AND seq <= %s"
        " AND NOT EXISTS (SELECT 1 FROM dead_letters AS d WHERE d.seq = events.seq)"
        " AND NOT EXISTS (SELECT 1 FROM pending AS p WHERE p.seq = events.seq)"
        " AND NOT EXISTS (SELECT 1 FROM batch_jobs AS b WHERE b.seq = events.seq)",
        (after, end),
    )
    return cur.rowcount, end


async def ping(conn: Conn, now: float) -> None:
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES ('pinged_at', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (now,),
    )


async def forget(conn: Conn, destination: str, user_key: str, now: float) -> int:
    cur = await conn.execute("SELECT coalesce(max(seq), 0) FROM events")
    row = await cur.fetchone()
    upto = 0 if row is None else int(row[0])
    await conn.execute(
        "INSERT INTO forgotten (destination, user_key, upto_seq, at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (destination, user_key) DO UPDATE"
        " SET upto_seq = excluded.upto_seq, at = excluded.at",
        (destination, user_key, upto, now),
    )
    cur = await conn.execute(
        "DELETE FROM pending WHERE destination = %s AND user_key = %s", (destination, user_key)
    )
    dropped = cur.rowcount
    await conn.execute(
        "DELETE FROM dead_letters WHERE destination = %s AND user_key = %s",
        (destination, user_key),
    )
    await conn.execute(
        "DELETE FROM traits WHERE destination = %s AND user_key = %s", (destination, user_key)
    )
    if dropped:
        await conn.execute(_COUNT, (destination, "filtered", FORGOTTEN, 0, dropped))
    return dropped


async def lease(
    conn: Conn, destination: str, n: int, owner: str, now: float, ttl_s: float
) -> Leases:
    """See ``Store.lease``. Free and expired leases are taken with ``FOR UPDATE SKIP LOCKED``:
    workers claiming at once take different partitions instead of queueing on one row."""
    until = now + ttl_s
    await conn.execute(
        "INSERT INTO workers (destination, owner, expires_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (destination, owner) DO UPDATE SET expires_at = excluded.expires_at",
        (destination, owner, until),
    )
    await conn.execute(
        "DELETE FROM workers WHERE destination = %s AND expires_at < %s", (destination, now)
    )
    cur = await conn.execute("SELECT count(*) FROM workers WHERE destination = %s", (destination,))
    row = await cur.fetchone()
    workers = 1 if row is None else max(1, int(row[0]))
    await conn.execute(
        "INSERT INTO leases (destination, part_n, part_k)"
        " SELECT %s, %s, k FROM generate_series(0, %s - 1) AS k ON CONFLICT DO NOTHING",
        (destination, n, n),
    )
    cur = await conn.execute(
        "UPDATE leases SET expires_at = %s"
        " WHERE destination = %s AND part_n = %s AND owner = %s RETURNING part_k, token",
        (until, destination, n, owner),
    )
    tokens = {int(k): int(token) for k, token in await cur.fetchall()}
    wanted = math.ceil(n / workers) - len(tokens)
    if wanted > 0:
        cur = await conn.execute(
            "UPDATE leases SET owner = %s, expires_at = %s, token = token + 1"
            " WHERE (destination, part_n, part_k) IN ("
            "  SELECT destination, part_n, part_k FROM leases"
            "  WHERE destination = %s AND part_n = %s AND (owner IS NULL OR expires_at < %s)"
            "  ORDER BY part_k LIMIT %s FOR UPDATE SKIP LOCKED"
            ") RETURNING part_k, token",
            (owner, until, destination, n, now, wanted),
        )
        tokens.update((int(k), int(token)) for k, token in await cur.fetchall())
    return Leases(sorted(tokens), workers, tokens)


async def release(
    conn: Conn, destination: str, n: int, owner: str, held: Mapping[int, int]
) -> None:
    parts = list(held)
    cur = await conn.execute(
        "UPDATE leases SET owner = NULL, expires_at = 0"
        " WHERE destination = %s AND part_n = %s AND owner = %s"
        " AND (part_k, token) IN (SELECT * FROM unnest(%s::integer[], %s::bigint[]))"
        " RETURNING part_k",
        (destination, n, owner, parts, [held[k] for k in parts]),
    )
    released = {int(k) for (k,) in await cur.fetchall()}
    if released != set(parts):
        raise Fenced.taken_over(destination, n, set(parts) - released)


async def save_trigger_cursor(conn: Conn, trigger: str, scope: str, at: str, ids: str) -> None:
    await conn.execute(
        "INSERT INTO trigger_cursors (trigger, scope, at, ids) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (trigger, scope) DO UPDATE SET at = excluded.at, ids = excluded.ids",
        (trigger, scope, at, ids),
    )


async def reset_trigger(conn: Conn, trigger: str) -> int:
    await conn.execute("DELETE FROM trigger_handed_on WHERE trigger = %s", (trigger,))
    cur = await conn.execute("DELETE FROM trigger_cursors WHERE trigger = %s", (trigger,))
    return cur.rowcount


async def mark_handed_on(
    conn: Conn, trigger: str, keys: list[str], now: float, keep_s: float
) -> None:
    await conn.execute("DELETE FROM trigger_handed_on WHERE at < %s", (now - keep_s,))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO trigger_handed_on (trigger, key, at) VALUES (%s, %s, %s)"
            " ON CONFLICT (trigger, key) DO UPDATE SET at = excluded.at",
            [(trigger, key, now) for key in keys],
        )
