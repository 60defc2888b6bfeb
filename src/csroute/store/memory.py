"""``MemoryStore``: the store port kept in one process's memory.

Nothing survives the process, so it is never a configuration choice. It exists so that tests of
the router and of everything above the store run without a database, in milliseconds, and so
that the store's rules are written once more in plain Python beside the two SQL backends: it
passes the same conformance suite (``tests/store/test_store_conformance.py``), which is what
keeps the three in step.

Every method runs without awaiting anything, so each one is atomic on the event loop, as a
transaction is in the SQL backends.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from csroute.events.model import LoggedEvent, NewEvent
from csroute.store.base import (
    FORGOTTEN,
    UNVERIFIED,
    WHOLE,
    BatchCheck,
    DeadLetter,
    DestinationStats,
    Fenced,
    Leases,
    Page,
    Partition,
    PendingEvent,
    Round,
    RunState,
    SentBatch,
    StepRecord,
    Store,
    StoreUnavailable,
    TriggerCursor,
    WorkflowRun,
)


@dataclass(slots=True)
class _Pending:
    """A pending row: ``next_at`` is set on the user's head only (see ``store.base``)."""

    user_key: str
    attempts: int = 0
    next_at: float | None = None
    first_failed_at: float | None = None
    error: str | None = None


@dataclass(slots=True)
class _Run:
    """A workflow run with its claim and its steps by index."""

    run: WorkflowRun
    claimed_until: float | None = None
    steps: dict[int, StepRecord] = field(default_factory=dict)


class MemoryStore(Store):
    def __init__(self) -> None:
        self._events: dict[int, tuple[LoggedEvent, float]] = {}  # seq -> (event, received_at)
        self._by_source: dict[str, list[int]] = {}  # source -> its seqs, ascending
        self._last_seq = 0
        self._cursors: dict[str, int] = {}
        self._pending: dict[str, dict[int, _Pending]] = {}  # destination -> seq -> row
        self._dead: dict[int, DeadLetter] = {}  # id -> letter (without its payload)
        self._last_dead_id = 0
        self._traits: dict[tuple[str, str], bytes] = {}
        self._counters: Counter[tuple[str, str, str]] = Counter()  # (dest, kind, reason)
        self._forgotten: dict[str, dict[str, int]] = {}
        self._trigger_cursors: dict[str, dict[str, TriggerCursor]] = {}
        self._handed_on: dict[tuple[str, str], float] = {}  # (trigger, key) -> when
        # (destination, n, k) -> (owner, fencing token) of each partition's lease
        self._leases: dict[tuple[str, int, int], tuple[str | None, int]] = {}
        self._sent: dict[str, dict[str, SentBatch]] = {}  # destination -> batch id -> batch
        self._runs: dict[int, _Run] = {}
        self._run_keys: dict[tuple[str, str], int] = {}  # (workflow, key) -> run id
        self.closed = False

    # -- the log ------------------------------------------------------------------------

    async def append(self, events: Sequence[NewEvent]) -> None:
        self._check_open()
        now = time.time()
        for e in events:
            self._last_seq += 1
            seq = self._last_seq
            self._events[seq] = (LoggedEvent(seq, e.source, e.user_key, e.type, e.payload), now)
            self._by_source.setdefault(e.source, []).append(seq)

    async def read_new(
        self,
        destination: str,
        sources: Collection[str],
        limit: int,
        partition: Partition = WHOLE,
        after: int | None = None,
    ) -> Page:
        _whole(partition)
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if after is None:
            after = self._cursors.get(destination, 0)
        per_source = []
        for source in set(sources):
            seqs = self._by_source.get(source, [])
            start = bisect.bisect_right(seqs, after)
            per_source.append(seqs[start : start + limit])
        events = [self._events[seq][0] for seq in itertools.islice(heapq.merge(*per_source), limit)]
        if len(events) == limit:
            return Page(events, events[-1].seq)
        return Page(events, max(after, max(self._events, default=0)))

    # -- delivery state -----------------------------------------------------------------

    async def due(
        self, destination: str, now: float, limit: int, partition: Partition = WHOLE
    ) -> list[PendingEvent]:
        _whole(partition)
        pending = self._pending.get(destination, {})
        heads = sorted(
            (row.next_at, seq, row.user_key)
            for seq, row in pending.items()
            if row.next_at is not None and row.next_at <= now
        )[:limit]
        out: list[PendingEvent] = []
        for _, _, user in heads:
            remaining = limit - len(out)
            if remaining <= 0:
                break
            run = sorted(seq for seq, row in pending.items() if row.user_key == user)
            for seq in run[:remaining]:
                row = pending[seq]
                out.append(PendingEvent(self._events[seq][0], row.attempts, row.first_failed_at))
        return out

    async def blocked_users(self, destination: str, partition: Partition = WHOLE) -> set[str]:
        _whole(partition)
        return {row.user_key for row in self._pending.get(destination, {}).values()}

    async def record(self, round: Round) -> set[str]:
        _whole(round.partition)
        self._check_open()
        r = round
        for user, traits in r.traits.items():  # checked first: a failed round changes nothing
            if not isinstance(traits, bytes):
                raise TypeError(f"traits of {user!r} must be bytes, not {type(traits).__name__}")
        d = r.destination
        if r.token is not None:
            k, n = r.partition
            held = self._leases.get((d, n, k))
            if held is None or held[1] != r.token:
                raise Fenced.taken_over(d, n, [k])
        pending = self._pending.setdefault(d, {})
        if r.cursor is not None:
            self._cursors[d] = r.cursor
        touched: set[str] = set()
        sent = self._sent.setdefault(d, {})
        sent.update((b.batch_id, b) for b in r.sent)
        for batch_id in r.checked:
            sent.pop(batch_id, None)
        for batch_id, check_at in r.postponed:
            if batch_id in sent:
                sent[batch_id] = replace(sent[batch_id], check_at=check_at)
        for seq in r.done:
            row = pending.pop(seq, None)
            if row is not None:
                touched.add(row.user_key)
        for x in r.retry:
            pending[x.seq] = _Pending(x.user_key, x.attempts, x.next_at, x.first_failed_at, x.error)
            touched.add(x.user_key)
        for seq, user in r.held:
            pending.setdefault(seq, _Pending(user))
            touched.add(user)
        for letter in r.dead:
            self._last_dead_id += 1
            self._dead[self._last_dead_id] = replace(
                letter, id=self._last_dead_id, destination=d, created_at=r.now, payload=b""
            )
        for user, traits in r.traits.items():
            self._traits[d, user] = traits
        self._counters[d, "delivered", ""] += len(r.delivered) - r.unverified
        self._counters[d, "delivered", UNVERIFIED] += r.unverified
        self._counters.update((d, "filtered", reason) for _, reason in r.filtered)
        self._counters.update((d, "rejected", reason) for _, reason in r.rejected)
        return self._restore_heads(d, touched, r.now)

    def _restore_heads(self, destination: str, users: Collection[str], now: float) -> set[str]:
        """Make each user's lowest pending seq the head (due ``now`` unless it has a time
        already) and clear ``next_at`` on the rest; return the users that still have rows."""
        pending = self._pending.get(destination, {})
        runs: dict[str, list[int]] = {}
        for seq, row in pending.items():
            if row.user_key in users:
                runs.setdefault(row.user_key, []).append(seq)
        for seqs in runs.values():
            head = min(seqs)
            for seq in seqs:
                row = pending[seq]
                if seq != head:
                    row.next_at = None
                elif row.next_at is None:
                    row.next_at = now
        return set(runs)

    async def batch_checks(
        self, destination: str, now: float, limit: int, partition: Partition = WHOLE
    ) -> list[BatchCheck]:
        _whole(partition)
        due = sorted(
            (b.check_at, b.batch_id, b)
            for b in self._sent.get(destination, {}).values()
            if b.check_at <= now
        )[:limit]
        return [
            BatchCheck(
                b.batch_id,
                [
                    PendingEvent(self._events[j.seq][0], j.attempts, j.first_failed_at)
                    for j in b.jobs
                ],
                b.expires_at,
            )
            for _, _, b in due
        ]

    # -- leases ---------------------------------------------------------------------------

    async def lease(
        self, destination: str, partitions: int, owner: str, now: float, ttl_s: float
    ) -> Leases:
        """As on SQLite, one worker per store: the caller gets every partition at once, and
        the tokens of those it did not hold go up, fencing out the worker before it."""
        n = partitions
        for k in range(n):
            holder, token = self._leases.get((destination, n, k), (None, 0))
            if holder != owner:
                self._leases[destination, n, k] = (owner, token + 1)
        tokens = {k: self._leases[destination, n, k][1] for k in range(n)}
        return Leases(list(range(n)), 1, tokens)

    async def release(
        self, destination: str, partitions: int, owner: str, held: Mapping[int, int]
    ) -> None:
        n = partitions
        mine = [
            k
            for k, token in held.items()
            if self._leases.get((destination, n, k)) == (owner, token)
        ]
        for k in mine:
            self._leases[destination, n, k] = (None, held[k])
        if len(mine) != len(held):
            raise Fenced.taken_over(destination, n, held)

    async def traits(self, destination: str, users: Collection[str]) -> dict[str, bytes]:
        found = ((user, self._traits.get((destination, user))) for user in users)
        return {user: traits for user, traits in found if traits is not None}

    # -- user deletion ------------------------------------------------------------------

    async def forget(self, destination: str, user_key: str, now: float) -> int:
        self._check_open()
        self._forgotten.setdefault(destination, {})[user_key] = max(self._events, default=0)
        pending = self._pending.get(destination, {})
        dropped = [seq for seq, row in pending.items() if row.user_key == user_key]
        for seq in dropped:
            del pending[seq]
        mine = (destination, user_key)
        for id in [i for i, x in self._dead.items() if (x.destination, x.user_key) == mine]:
            del self._dead[id]
        self._traits.pop((destination, user_key), None)
        if dropped:
            self._counters[destination, "filtered", FORGOTTEN] += len(dropped)
        return len(dropped)

    async def forgotten(self, destination: str) -> dict[str, int]:
        return dict(self._forgotten.get(destination, {}))

    # -- dead letters -------------------------------------------------------------------

    def _with_payload(self, letter: DeadLetter) -> DeadLetter:
        return replace(letter, payload=self._events[letter.seq][0].payload)

    async def dead_letters(
        self, destination: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[DeadLetter]:
        letters = (
            x
            for id, x in sorted(self._dead.items())
            if id > after_id and destination in (None, x.destination)
        )
        return [self._with_payload(x) for x in itertools.islice(letters, limit)]

    async def dead_letter(self, id: int) -> DeadLetter | None:
        letter = self._dead.get(id)
        return None if letter is None else self._with_payload(letter)

    async def replay(self, ids: Collection[int], now: float) -> int:
        self._check_open()
        replayed = [self._dead.pop(id) for id in set(ids) if id in self._dead]
        users: dict[str, set[str]] = {}
        for x in replayed:
            self._pending.setdefault(x.destination, {}).setdefault(
                x.seq, _Pending(x.user_key, next_at=now)
            )
            users.setdefault(x.destination, set()).add(x.user_key)
        for destination, touched in users.items():
            self._restore_heads(destination, touched, now)
        return len(replayed)

    async def discard(self, ids: Collection[int]) -> int:
        self._check_open()
        return sum(self._dead.pop(id, None) is not None for id in set(ids))

    # -- Custify triggers -----------------------------------------------------------------

    async def trigger_cursors(self, trigger: str) -> dict[str, TriggerCursor]:
        return dict(self._trigger_cursors.get(trigger, {}))

    async def save_trigger_cursor(self, trigger: str, scope: str, cursor: TriggerCursor) -> None:
        self._check_open()
        self._trigger_cursors.setdefault(trigger, {})[scope] = cursor

    async def reset_trigger(self, trigger: str) -> int:
        self._check_open()
        for key in [k for k in self._handed_on if k[0] == trigger]:
            del self._handed_on[key]
        return len(self._trigger_cursors.pop(trigger, {}))

    async def handed_on(self, trigger: str, keys: Collection[str]) -> set[str]:
        return {key for key in keys if (trigger, key) in self._handed_on}

    async def mark_handed_on(
        self, trigger: str, keys: Collection[str], now: float, keep_s: float
    ) -> None:
        self._check_open()
        for old in [k for k, at in self._handed_on.items() if at < now - keep_s]:
            del self._handed_on[old]
        self._handed_on.update(((trigger, key), now) for key in keys)

    # -- workflow runs --------------------------------------------------------------------

    async def create_run(self, workflow: str, key: str, trigger: bytes, now: float) -> int | None:
        self._check_open()
        if (workflow, key) in self._run_keys:
            return None
        id = len(self._runs) + 1
        self._runs[id] = _Run(WorkflowRun(id, workflow, key, trigger, "queued", now, now))
        self._run_keys[workflow, key] = id
        return id

    async def claim_run(self, id: int, owner: str, now: float, ttl_s: float) -> bool:
        self._check_open()
        found = self._runs.get(id)
        if found is None:
            return False
        run, until = found.run, found.claimed_until
        expired_or_mine = (until is not None and until < now) or run.owner == owner
        if run.state != "queued" and not (run.state == "running" and expired_or_mine):
            return False
        found.run = replace(run, state="running", owner=owner, updated_at=now)
        found.claimed_until = now + ttl_s
        return True

    async def record_step(self, step: StepRecord) -> None:
        self._check_open()
        self._runs[step.run_id].steps[step.index] = step

    async def finish_run(self, id: int, state: RunState, error: str | None, now: float) -> None:
        self._check_open()
        found = self._runs.get(id)
        if found is not None:
            found.run = replace(found.run, state=state, error=error, updated_at=now, owner=None)
            found.claimed_until = None

    async def retry_run(self, id: int, now: float) -> bool:
        self._check_open()
        found = self._runs.get(id)
        if found is None or found.run.state != "failed":
            return False
        found.run = replace(found.run, state="queued", error=None, updated_at=now)
        return True

    async def workflow_run(self, id: int) -> WorkflowRun | None:
        found = self._runs.get(id)
        if found is None:
            return None
        return replace(found.run, steps=tuple(s for _, s in sorted(found.steps.items())))

    async def workflow_runs(
        self, workflow: str, limit: int = 50, before_id: int | None = None
    ) -> list[WorkflowRun]:
        runs = (
            found.run
            for id, found in sorted(self._runs.items(), reverse=True)
            if found.run.workflow == workflow and (before_id is None or id < before_id)
        )
        return list(itertools.islice(runs, limit))

    async def unfinished_runs(self, now: float, limit: int = 100) -> list[int]:
        ids = (
            id
            for id, found in sorted(self._runs.items())
            if found.run.state == "queued"
            or (
                found.run.state == "running"
                and found.claimed_until is not None
                and found.claimed_until < now
            )
        )
        return list(itertools.islice(ids, limit))

    # -- reporting and upkeep -----------------------------------------------------------

    async def stats(self, destination: str, sources: Collection[str]) -> DestinationStats:
        totals = {"delivered": 0, "filtered": 0, "rejected": 0}
        by_reason: dict[str, dict[str, int]] = {"filtered": {}, "rejected": {}, "delivered": {}}
        for (d, kind, reason), n in self._counters.items():
            if d == destination and n:
                totals[kind] += n
                if kind in by_reason:
                    by_reason[kind][reason] = n
        rows = self._pending.get(destination, {}).values()
        heads = [row for row in rows if row.next_at is not None]
        letters = [x for x in self._dead.values() if x.destination == destination]
        after = self._cursors.get(destination, 0)
        backlog = sum(
            len(seqs) - bisect.bisect_right(seqs, after)
            for seqs in (self._by_source.get(source, []) for source in set(sources))
        )
        sent = {j.seq for b in self._sent.get(destination, {}).values() for j in b.jobs}
        return DestinationStats(
            sent=len(sent),
            unverified=by_reason["delivered"].get(UNVERIFIED, 0),
            dead=len(letters),
            retrying=len(heads),
            held=len(rows) - len(heads),
            backlog=backlog,
            filtered_by_reason=by_reason["filtered"],
            rejected_by_reason=by_reason["rejected"],
            retrying_by_error=dict(Counter(row.error or "" for row in heads).most_common()),
            dead_by_error=dict(Counter(x.error for x in letters).most_common()),
            **totals,
        )

    async def prune(
        self, destinations: Collection[str], received_before: float | None = None
    ) -> int:
        self._check_open()
        ceiling = min((self._cursors.get(d, 0) for d in destinations), default=0)
        if received_before is not None:
            recent = (s for s, (_, at) in self._events.items() if at >= received_before)
            ceiling = min(ceiling, next(recent, ceiling + 1) - 1)
        needed = {seq for rows in self._pending.values() for seq in rows}
        needed.update(x.seq for x in self._dead.values())
        needed.update(j.seq for sent in self._sent.values() for b in sent.values() for j in b.jobs)
        gone = [seq for seq in self._events if seq <= ceiling and seq not in needed]
        for seq in gone:
            del self._events[seq]
        for source, seqs in self._by_source.items():
            self._by_source[source] = [seq for seq in seqs if seq in self._events]
        return len(gone)

    async def ping(self) -> None:
        self._check_open()

    async def close(self) -> None:
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise StoreUnavailable("the in-memory store is closed")


def _whole(partition: Partition) -> None:
    """Like SQLite, one process owns the store: a destination is never split (see ``lease``)."""
    if partition != WHOLE:
        raise ValueError("the in-memory store does not split destinations into partitions")
