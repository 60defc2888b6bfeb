"""The read queries, each run in one REPEATABLE READ transaction (one snapshot).

A page and the end of the log it reports, or due heads and the runs behind them, come from the
same moment. Every query is bounded by a ``LIMIT`` or an index range.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from csroute.events.model import LoggedEvent
from csroute.store.base import (
    PARTS,
    UNVERIFIED,
    BatchCheck,
    DeadLetter,
    DestinationStats,
    Page,
    Partition,
    PendingEvent,
)
from csroute.store.postgres.schema import Conn

# The whole destination: one index range of ``events_source`` per source, merged (a single
# ``source = ANY(...)`` scan would have to sort every match of the backlog to find the first
# few).
_PAGE: Final = """
SELECT e.seq, e.source, e.user_key, e.type, e.payload
FROM unnest(%(sources)s::text[]) AS s(source)
CROSS JOIN LATERAL (
    SELECT seq, source, user_key, type, payload FROM events
    WHERE events.source = s.source AND seq > %(after)s
    ORDER BY seq LIMIT %(limit)s
) AS e
ORDER BY e.seq LIMIT %(limit)s
"""

# One partition: one range of ``events_source_part`` per source and part of the partition,
# merged in seq order. Each range has a ``LIMIT`` of its own: that is what makes the planner
# choose a Merge Append, which reads each range only as far as the page needs (without it, it
# reads and sorts every range of the backlog: 1 s instead of 7 ms for a page of 2,000 events in
# a backlog of a million).
_PART_RANGE: Final = (
    "(SELECT seq, source, user_key, type, payload FROM events"
    " WHERE source = %s AND part = %s AND seq > %s ORDER BY seq LIMIT %s)"
)


def _partition_page(ranges: int) -> bytes:
    union = " UNION ALL ".join([_PART_RANGE] * ranges)
    return f"SELECT * FROM ({union}) AS page ORDER BY seq LIMIT %s".encode()


_DUE_HEADS: Final = """
SELECT user_key FROM pending
WHERE destination = %s AND next_at <= %s AND part %% %s = %s
ORDER BY next_at, seq LIMIT %s
"""

_RUN: Final = """
SELECT p.seq, e.source, e.user_key, e.type, e.payload, p.attempts, p.first_failed_at
FROM pending AS p JOIN events AS e ON e.seq = p.seq
WHERE p.destination = %s AND p.user_key = %s ORDER BY p.seq LIMIT %s
"""

_DUE_BATCHES: Final = """
SELECT batch_id, min(expires_at) FROM batch_jobs
WHERE destination = %s AND check_at <= %s AND part %% %s = %s
GROUP BY batch_id ORDER BY min(check_at), batch_id LIMIT %s
"""

_BATCH_JOBS: Final = """
SELECT b.seq, e.source, e.user_key, e.type, e.payload, b.attempts, b.first_failed_at
FROM batch_jobs AS b JOIN events AS e ON e.seq = b.seq
WHERE b.destination = %s AND b.batch_id = %s ORDER BY b.idx
"""

_DEAD_LETTER: Final = """
SELECT d.seq, d.user_key, d.attempts, d.error, d.request, d.status, d.response,
       d.id, d.destination, d.created_at, e.payload
FROM dead_letters AS d JOIN events AS e ON e.seq = d.seq
"""


async def cursor(conn: Conn, destination: str, partition: Partition) -> int:
    """Where the partition's cursor stands.

    A partition that has none yet (a new deployment, or one whose operator changed the number
    of partitions) starts at the lowest cursor of the destination's other partitionings, so
    nothing is skipped; events some old partition had taken are delivered again.
    """
    k, n = partition
    cur = await conn.execute(
        "SELECT seq FROM cursors WHERE destination = %s AND part_n = %s AND part_k = %s",
        (destination, n, k),
    )
    row = await cur.fetchone()
    if row is not None:
        return int(row[0])
    cur = await conn.execute(
        "SELECT coalesce(min(seq), 0) FROM cursors WHERE destination = %s AND part_n <> %s",
        (destination, n),
    )
    row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def partitions(conn: Conn, destination: str) -> list[Partition]:
    """The partitions a destination is split in now (the most numerous recorded split)."""
    cur = await conn.execute(
        "SELECT part_n FROM cursors WHERE destination = %s"
        " GROUP BY part_n ORDER BY count(*) DESC, part_n DESC LIMIT 1",
        (destination,),
    )
    row = await cur.fetchone()
    n = 1 if row is None else int(row[0])
    return [(k, n) for k in range(n)]


async def prune_ceiling(
    conn: Conn, destinations: Collection[str], received_before: float | None
) -> int:
    """The highest seq every partition of every one of ``destinations`` has taken, and below
    the first event received at or after ``received_before``."""
    ceilings = [
        min([await cursor(conn, d, p) for p in await partitions(conn, d)]) for d in destinations
    ]
    ceiling = min(ceilings, default=0)
    if received_before is not None and ceiling:
        # In seq order, so this reads only the old events that are about to go anyway.
        cur = await conn.execute(
            "SELECT seq FROM events WHERE seq <= %s AND received_at >= %s ORDER BY seq LIMIT 1",
            (ceiling, received_before),
        )
        row = await cur.fetchone()
        if row is not None:
            ceiling = int(row[0]) - 1
    return ceiling


async def end_of_log(conn: Conn) -> int:
    cur = await conn.execute("SELECT coalesce(max(seq), 0) FROM events")
    row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def read_new(
    conn: Conn,
    destination: str,
    sources: Collection[str],
    limit: int,
    partition: Partition,
    after: int | None = None,
) -> Page:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if after is None:
        after = await cursor(conn, destination, partition)
    k, n = partition
    names = sorted(set(sources))
    if n == 1:
        cur = await conn.execute(_PAGE, {"sources": names, "after": after, "limit": limit})
    else:
        ranges = [(s, part, after, limit) for s in names for part in range(k, PARTS, n)]
        if not ranges:
            return Page([], max(after, await end_of_log(conn)))
        params = [value for r in ranges for value in r]
        cur = await conn.execute(_partition_page(len(ranges)), [*params, limit])
    events = [LoggedEvent(*row) for row in await cur.fetchall()]
    if len(events) == limit:
        return Page(events, events[-1].seq)
    return Page(events, max(after, await end_of_log(conn)))


async def due(
    conn: Conn, destination: str, now: float, limit: int, partition: Partition
) -> list[PendingEvent]:
    """Runs in due order; the last one is cut short rather than left out when it does not fit,
    so that a user with more held events than ``limit`` still makes progress."""
    k, n = partition
    cur = await conn.execute(_DUE_HEADS, (destination, now, n, k, limit))
    out: list[PendingEvent] = []
    for (user,) in await cur.fetchall():
        remaining = limit - len(out)
        if remaining <= 0:
            break
        run = await conn.execute(_RUN, (destination, user, remaining))
        out.extend(
            PendingEvent(LoggedEvent(*row[:5]), row[5], row[6]) for row in await run.fetchall()
        )
    return out


async def batch_checks(
    conn: Conn, destination: str, now: float, limit: int, partition: Partition
) -> list[BatchCheck]:
    k, n = partition
    cur = await conn.execute(_DUE_BATCHES, (destination, now, n, k, limit))
    out: list[BatchCheck] = []
    for batch_id, expires_at in await cur.fetchall():
        jobs = await conn.execute(_BATCH_JOBS, (destination, batch_id))
        events = [
            PendingEvent(LoggedEvent(*row[:5]), row[5], row[6]) for row in await jobs.fetchall()
        ]
        out.append(BatchCheck(batch_id, events, float(expires_at)))
    return out


async def blocked_users(conn: Conn, destination: str, partition: Partition) -> set[str]:
    k, n = partition
    cur = await conn.execute(
        "SELECT user_key FROM pending"
        " WHERE destination = %s AND next_at IS NOT NULL AND part %% %s = %s",
        (destination, n, k),
    )
    return {user for (user,) in await cur.fetchall()}


async def traits(conn: Conn, destination: str, users: Collection[str]) -> dict[str, bytes]:
    cur = await conn.execute(
        "SELECT user_key, traits FROM traits WHERE destination = %s AND user_key = ANY(%s)",
        (destination, list(users)),
    )
    return dict(await cur.fetchall())


async def dead_letters(
    conn: Conn, destination: str | None, after_id: int, limit: int
) -> list[DeadLetter]:
    if destination is None:
        cur = await conn.execute(
            _DEAD_LETTER + "WHERE d.id > %s ORDER BY d.id LIMIT %s", (after_id, limit)
        )
    else:
        cur = await conn.execute(
            _DEAD_LETTER + "WHERE d.destination = %s AND d.id > %s ORDER BY d.id LIMIT %s",
            (destination, after_id, limit),
        )
    return [DeadLetter(*row) for row in await cur.fetchall()]


async def dead_letter(conn: Conn, id: int) -> DeadLetter | None:
    cur = await conn.execute(_DEAD_LETTER + "WHERE d.id = %s", (id,))
    row = await cur.fetchone()
    return None if row is None else DeadLetter(*row)


async def _count(conn: Conn, query: str, params: tuple[object, ...]) -> int:
    cur = await conn.execute(query.encode(), params)
    row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def stats(conn: Conn, destination: str, sources: Collection[str]) -> DestinationStats:
    """Counters of every partition added up: users see destinations, never partitions."""
    totals = {"delivered": 0, "filtered": 0, "rejected": 0}
    by_reason: dict[str, dict[str, int]] = {"filtered": {}, "rejected": {}, "delivered": {}}
    cur = await conn.execute(
        "SELECT kind, reason, sum(n) FROM counters WHERE destination = %s GROUP BY kind, reason",
        (destination,),
    )
    for kind, reason, n in await cur.fetchall():
        totals[kind] += int(n)
        if kind in by_reason:
            by_reason[kind][reason] = int(n)
    dead = await _count(
        conn, "SELECT count(*) FROM dead_letters WHERE destination = %s", (destination,)
    )
    pending = await _count(
        conn, "SELECT count(*) FROM pending WHERE destination = %s", (destination,)
    )
    retrying = await _count(
        conn,
        "SELECT count(*) FROM pending WHERE destination = %s AND next_at IS NOT NULL",
        (destination,),
    )
    retrying_by_error = await _by_error(
        conn,
        "SELECT coalesce(error, ''), count(*) FROM pending"
        " WHERE destination = %s AND next_at IS NOT NULL GROUP BY 1 ORDER BY 2 DESC",
        destination,
    )
    dead_by_error = await _by_error(
        conn,
        "SELECT error, count(*) FROM dead_letters WHERE destination = %s"
        " GROUP BY error ORDER BY 2 DESC",
        destination,
    )
    sent = await _count(
        conn, "SELECT count(DISTINCT seq) FROM batch_jobs WHERE destination = %s", (destination,)
    )
    names = sorted(set(sources))
    backlog = 0
    for k, n in await partitions(conn, destination):
        backlog += await _count(
            conn,
            "SELECT count(*) FROM events WHERE source = ANY(%s) AND seq > %s AND part %% %s = %s",
            (names, await cursor(conn, destination, (k, n)), n, k),
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


async def _by_error(conn: Conn, query: str, destination: str) -> dict[str, int]:
    cur = await conn.execute(query.encode(), (destination,))
    return {error: int(n) for error, n in await cur.fetchall()}


async def forgotten(conn: Conn, destination: str) -> dict[str, int]:
    cur = await conn.execute(
        "SELECT user_key, upto_seq FROM forgotten WHERE destination = %s", (destination,)
    )
    return {user: int(upto) for user, upto in await cur.fetchall()}


async def trigger_cursors(conn: Conn, trigger: str) -> dict[str, tuple[str, str]]:
    cur = await conn.execute(
        "SELECT scope, at, ids FROM trigger_cursors WHERE trigger = %s", (trigger,)
    )
    return {scope: (at, ids) for scope, at, ids in await cur.fetchall()}


async def handed_on(conn: Conn, trigger: str, keys: list[str]) -> set[str]:
    cur = await conn.execute(
        "SELECT key FROM trigger_handed_on WHERE trigger = %s AND key = ANY(%s)", (trigger, keys)
    )
    return {key for (key,) in await cur.fetchall()}
