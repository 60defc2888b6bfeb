"""The store interface: an append-only event log plus small per-destination delivery state.

Model, per destination:

* a **cursor**: every logged event of a connected source with ``seq <= cursor`` has been taken
  by the router (delivered, filtered, rejected, dead-lettered, or parked as pending);
* **pending** rows: events that failed with a retryable error, and the same user's later
  events held back behind them. For each (destination, user) with pending rows, exactly the
  lowest ``seq`` is the *head* and carries ``next_at`` (when to try it); the others are *held*
  (``next_at`` is None) and become the head in turn. This is what keeps per-user order while a
  failing user holds back nobody else;
* **dead letters**: events given up on, with the request, response and reason kept;
* **traits**: what the destination remembers about a user from identify events;
* **counters**: delivered / filtered / rejected totals that survive restarts;
* **sent batches**: events of a batch the destination accepted whose per-job outcome is still to
  be checked (Custify's asynchronous ``POST /batch``). They are *sent*, not delivered, until a
  round names the batch in ``checked``; a crash in between loses neither the check nor the
  events (which stay in the log until then).

The router reads due pending events and new events, delivers them, and every few tens of
milliseconds calls ``record`` with the outcomes decided since the last call and the cursor as far
as they allow (a *round*), so outcomes and cursor commit atomically. An event whose outcome is
not committed is delivered again after a crash: at-least-once.

Backends implement every method as a coroutine; a backend whose driver is synchronous runs it
off the event loop. All backends pass ``tests/store/test_store_conformance.py``.
"""

from __future__ import annotations

import json
import zlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from csroute.events.model import LoggedEvent, NewEvent

FORGOTTEN = "forgotten: user deletion requested"
"""The filter reason of events skipped because their user's deletion was requested."""

UNVERIFIED: Final = "unverified"
"""The counters' reason for events delivered in a batch whose per-job outcome is unknown."""

PARTS: Final = 64
"""Every event's user falls in one of this many parts (see ``part_of``)."""

Partition = tuple[int, int]
"""``(k, n)``: the share of a destination's work made of the users whose part ``% n == k``.

Several worker processes share a destination by each delivering some of its ``n`` partitions
(``n`` a power of two dividing ``PARTS``). A user always falls in the same partition, so one
worker at a time delivers that user's events and per-user order holds across workers. Each
partition has a cursor of its own; pending rows, dead letters, traits and counters stay keyed
by the destination (a user's rows only ever concern one partition).
"""

WHOLE: Final[Partition] = (0, 1)
"""The whole destination as one partition: the single-worker case."""


def part_of(user_key: str) -> int:
    """The user's part, stable across processes, machines and versions (CRC-32)."""
    return zlib.crc32(user_key.encode()) % PARTS


def in_partition(user_key: str, partition: Partition) -> bool:
    k, n = partition
    return part_of(user_key) % n == k


class Fenced(Exception):
    """A partition's write carried a lease token that is no longer the partition's: another
    worker took the lease over and delivers the partition now. The store refused the whole
    write; the worker that made it must stop working the partition and not try again."""

    @classmethod
    def taken_over(cls, destination: str, n: int, parts: Collection[int]) -> Fenced:
        return cls(
            f"destination {destination!r}, partitions {sorted(parts)} of {n}:"
            " another worker took the lease over"
        )


class StoreUnavailable(Exception):
    """The store could not durably commit (disk full, I/O error, database down).

    The gateway answers 503 and acknowledges nothing.
    """


@dataclass(slots=True, frozen=True)
class Page:
    """New events for one destination, and where its cursor stands once they are taken."""

    events: list[LoggedEvent]
    cursor: int


@dataclass(slots=True, frozen=True)
class PendingEvent:
    """A pending event handed back for another attempt (a due head, or a held event behind it)."""

    event: LoggedEvent
    attempts: int
    first_failed_at: float | None  # unix time of the first failure; None for held events


@dataclass(slots=True, frozen=True)
class Retry:
    """An event to (re)park as pending after a retryable failure in this round."""

    seq: int
    user_key: str
    attempts: int
    next_at: float
    first_failed_at: float
    error: str


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """An event that will not be delivered without a human: the reason and the evidence."""

    seq: int
    user_key: str
    attempts: int
    error: str
    request: bytes | None = None  # JSON of the request(s) last tried
    status: int | None = None  # HTTP status of the last response, if any
    response: bytes | None = None  # body of the last response (truncated by the router)
    id: int = 0  # assigned by the store
    destination: str = ""
    created_at: float = 0.0
    payload: bytes = b""  # the event, filled in when read back


@dataclass(slots=True, frozen=True)
class SentJob:
    """One event of a sent batch: what its check needs to retry or dead-letter it."""

    seq: int
    user_key: str
    attempts: int  # failed attempts before the batch that carried it
    first_failed_at: float | None


@dataclass(slots=True, frozen=True)
class SentBatch:
    """A batch the destination accepted, whose per-job outcome is checked at ``check_at``.

    ``jobs`` are its events in job order. Past ``expires_at`` the destination no longer keeps
    the outcome: the events then count as delivered, unverified.
    """

    batch_id: str
    jobs: list[SentJob]
    check_at: float
    expires_at: float


@dataclass(slots=True, frozen=True)
class BatchCheck:
    """A sent batch due for its check, with its events read back (``jobs``, in job order)."""

    batch_id: str
    jobs: list[PendingEvent]
    expires_at: float


@dataclass(slots=True)
class Round:
    """Outcomes the router decided for one destination since its last round, committed together.

    ``delivered``, ``filtered`` and ``rejected`` list seqs that are done: if they were pending,
    their pending rows go. ``retry`` parks failed events (updating a pending row or adding one);
    ``held`` parks events behind a failed event of the same user; ``dead`` moves events to the
    dead letters (removing any pending row). Afterwards the store restores the head invariant
    for every user touched: the lowest pending seq of a user gets ``next_at`` (``now`` if it had
    none), the rest none.

    ``sent`` keeps batches whose outcome is still to be checked (their events are done as far as
    pending rows and the cursor go, but not counted delivered); ``checked`` removes batches whose
    outcome this round records (in ``delivered``, ``retry`` and ``dead``); ``postponed`` moves
    a batch's check to a later time. ``unverified`` says how many of ``delivered`` were accepted
    in a batch whose per-job outcome will never be known.
    """

    destination: str
    now: float
    cursor: int | None = None  # new cursor, or None to leave it
    delivered: list[int] = field(default_factory=list)
    filtered: list[tuple[int, str]] = field(default_factory=list)  # (seq, reason)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (seq, reason): never sent
    retry: list[Retry] = field(default_factory=list)
    held: list[tuple[int, str]] = field(default_factory=list)  # (seq, user_key)
    dead: list[DeadLetter] = field(default_factory=list)
    traits: dict[str, bytes] = field(default_factory=dict)  # user_key -> JSON object
    partition: Partition = WHOLE  # whose cursor ``cursor`` is
    token: int | None = None
    """The fencing token of the partition's lease this round was decided under (see
    ``Store.lease``): the store refuses the round (``Fenced``) once the lease has a newer one.
    None for a caller that holds no lease (tests, tools)."""
    sent: list[SentBatch] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # batch ids
    postponed: list[tuple[str, float]] = field(default_factory=list)  # (batch id, check_at)
    unverified: int = 0

    @property
    def done(self) -> list[int]:
        """The seqs that leave the pending rows: every outcome but a retry or a hold."""
        return [
            *self.delivered,
            *(seq for seq, _ in self.filtered),
            *(seq for seq, _ in self.rejected),
            *(dead.seq for dead in self.dead),
            *(job.seq for batch in self.sent for job in batch.jobs),
        ]


@dataclass(slots=True, frozen=True)
class Leases:
    """What ``Store.lease`` answers: the partitions this worker holds, and how many workers
    (this one included) currently share the destination."""

    held: list[int]
    workers: int
    tokens: dict[int, int] = field(default_factory=dict)
    """The fencing token of each held partition: it grows each time the partition's lease
    changes hands, and every write the holder makes for the partition carries it."""


@dataclass(slots=True, frozen=True)
class TriggerCursor:
    """Where a polling trigger stands in one scope: every record stamped before ``at``, and
    those stamped exactly ``at`` whose ids are in ``ids``, were handed on. Keeping the ids is
    what lets equal timestamps neither skip nor repeat. ``at`` is Custify's own timestamp text
    ("" when the scope had no records yet)."""

    at: str
    ids: tuple[str, ...] = ()

    @property
    def ids_json(self) -> str:
        """``ids`` as both backends keep them: a JSON array in a text column."""
        return json.dumps(list(self.ids))

    @classmethod
    def stored(cls, at: str, ids_json: str) -> TriggerCursor:
        return cls(at, tuple(json.loads(ids_json)))


RunState = Literal["queued", "running", "succeeded", "failed", "skipped"]
"""A workflow run's state: ``queued`` (waiting to run, or to be resumed), ``running`` (claimed
by a process until its claim expires), ``succeeded``, ``failed`` (stopped at a step with a
permanent error, until retried), ``skipped`` (its conditions did not hold)."""
StepState = Literal["running", "succeeded", "failed"]


@dataclass(slots=True, frozen=True)
class StepRecord:
    """One step of a workflow run: what it was given, what it answered, how often it tried."""

    run_id: int
    index: int
    name: str
    state: StepState
    attempts: int
    started_at: float
    input: bytes | None = None  # JSON
    output: bytes | None = None  # JSON
    error: str | None = None
    finished_at: float | None = None


@dataclass(slots=True, frozen=True)
class WorkflowRun:
    """One run of a workflow, started by one trigger record (``key``, unique per workflow)."""

    id: int
    workflow: str
    key: str
    trigger: bytes  # JSON of the record that started it
    state: RunState
    created_at: float
    updated_at: float
    error: str | None = None
    owner: str | None = None  # the process that claimed it, while ``running``
    steps: tuple[StepRecord, ...] = ()  # filled in by ``workflow_run`` only


@dataclass(slots=True, frozen=True)
class DestinationStats:
    delivered: int
    filtered: int
    rejected: int
    dead: int  # in the dead letters now (replay and discard take them out)
    retrying: int  # pending heads (events that failed and wait for their next attempt)
    held: int  # pending events held back behind a retrying one
    backlog: int  # new events after the cursor, not yet taken
    filtered_by_reason: Mapping[str, int] = field(default_factory=dict)
    rejected_by_reason: Mapping[str, int] = field(default_factory=dict)
    retrying_by_error: Mapping[str, int] = field(default_factory=dict)
    """Why the retrying events failed last (the error text, as in the logs), most common first."""
    dead_by_error: Mapping[str, int] = field(default_factory=dict)
    """Why the dead letters were given up on, most common first."""
    sent: int = 0
    """Events of accepted batches whose per-job outcome is still to be checked."""
    unverified: int = 0
    """Of ``delivered``: events of accepted batches whose per-job outcome was never checked."""


class Store(ABC):
    """One event log and its delivery state. Safe to share across tasks of one event loop."""

    # -- the log ------------------------------------------------------------------------

    @abstractmethod
    def append(self, events: Sequence[NewEvent]) -> Awaitable[None]:
        """Durably append events, in order, as one unit: once awaited they survive a crash.

        Concurrent callers share commits (group commit). Raises ``StoreUnavailable`` when the
        events could not be committed; then none of them is in the log. An awaitable rather
        than a coroutine, so that a backend can hand back the future its commit resolves: one
        coroutine less per request on the ingestion path.
        """

    @abstractmethod
    async def read_new(
        self,
        destination: str,
        sources: Collection[str],
        limit: int,
        partition: Partition = WHOLE,
        after: int | None = None,
    ) -> Page:
        """Up to ``limit`` events of ``sources`` after the destination's cursor, in seq order.

        ``Page.cursor`` is where the cursor may move once these are recorded: the last event's
        seq, or (when fewer than ``limit`` matched) the end of the log as read. With a
        ``partition``, only that partition's users' events, after that partition's cursor.
        With ``after``, the events after that seq instead of after the cursor: the router reads
        ahead of what it has recorded while earlier events are still being delivered.
        """

    # -- delivery state -----------------------------------------------------------------

    @abstractmethod
    async def due(
        self, destination: str, now: float, limit: int, partition: Partition = WHOLE
    ) -> list[PendingEvent]:
        """Pending heads with ``next_at <= now``, each followed by its held events, seq order.

        At most ``limit`` events in all; a user's run is never split off from its head. With a
        ``partition``, only that partition's users.
        """

    @abstractmethod
    async def blocked_users(self, destination: str, partition: Partition = WHOLE) -> set[str]:
        """Users that have pending events (their new events must be held behind them)."""

    @abstractmethod
    async def record(self, round: Round) -> set[str]:
        """Commit a round atomically.

        Returns every user named in the round (through any of its seqs) that still has pending
        rows afterwards; the router keeps exactly those users blocked.
        """

    @abstractmethod
    async def batch_checks(
        self, destination: str, now: float, limit: int, partition: Partition = WHOLE
    ) -> list[BatchCheck]:
        """Up to ``limit`` sent batches with ``check_at <= now``, earliest first, with their
        events. With a ``partition``, only batches of that partition's users."""

    @abstractmethod
    async def traits(self, destination: str, users: Collection[str]) -> dict[str, bytes]:
        """Remembered traits (JSON objects) of these users, for those that have any."""

    # -- sharing a destination between worker processes ---------------------------------

    @abstractmethod
    async def lease(
        self, destination: str, partitions: int, owner: str, now: float, ttl_s: float
    ) -> Leases:
        """Announce ``owner`` as a worker of ``destination`` until ``now + ttl_s``, renew the
        leases it holds on the destination's ``partitions`` and take free or expired ones up to
        its fair share (``partitions`` divided by the live workers, rounded up).

        A lease not renewed within ``ttl_s`` (its worker died, or stalled) is taken over by
        another worker, and its fencing token grows: from then on ``record`` and ``release``
        refuse (``Fenced``) what the old holder sends with the old token, atomically with the
        takeover, so a stalled worker that wakes up cannot record what the new holder redoes.
        A worker holding more than its fair share should finish those partitions' rounds and
        ``release`` them so that newcomers get work. A store that serves one worker process
        (SQLite) hands the caller every partition at once, raising the tokens when it was not
        their holder.
        """

    @abstractmethod
    async def release(
        self, destination: str, partitions: int, owner: str, held: Mapping[int, int]
    ) -> None:
        """Give up ``owner``'s leases on these partitions (its rounds on them are finished):
        ``held`` maps each partition to its fencing token. A partition whose lease has a newer
        token belongs to another worker: it is left to it, and ``Fenced`` raised."""

    # -- user deletion ------------------------------------------------------------------

    @abstractmethod
    async def forget(self, destination: str, user_key: str, now: float) -> int:
        """Stop delivering a user's queued events to ``destination``.

        Marks the user's events up to the current end of the log as forgotten, drops their
        pending events (counted as filtered, reason ``forgotten``), dead letters and remembered
        traits. Returns how many queued (pending) events were dropped. Events logged later are
        delivered as usual.
        """

    @abstractmethod
    async def forgotten(self, destination: str) -> dict[str, int]:
        """Forgotten users of ``destination``: user_key -> seq up to which events are skipped."""

    # -- dead letters -------------------------------------------------------------------

    @abstractmethod
    async def dead_letters(
        self, destination: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[DeadLetter]:
        """Dead letters with ``id > after_id`` in id order, with the event payload."""

    @abstractmethod
    async def dead_letter(self, id: int) -> DeadLetter | None:
        """One dead letter with its event, or None."""

    @abstractmethod
    async def replay(self, ids: Collection[int], now: float) -> int:
        """Move dead letters back to pending (due now, attempts reset); returns how many."""

    @abstractmethod
    async def discard(self, ids: Collection[int]) -> int:
        """Delete dead letters for good; returns how many."""

    # -- Custify triggers -----------------------------------------------------------------

    @abstractmethod
    async def trigger_cursors(self, trigger: str) -> dict[str, TriggerCursor]:
        """The cursors of a trigger, by scope ("" for an unscoped trigger)."""

    @abstractmethod
    async def save_trigger_cursor(self, trigger: str, scope: str, cursor: TriggerCursor) -> None:
        """Durably set the cursor of one scope of a trigger."""

    @abstractmethod
    async def reset_trigger(self, trigger: str) -> int:
        """Forget a trigger's cursors and handed-on records; returns how many cursors went."""

    @abstractmethod
    async def handed_on(self, trigger: str, keys: Collection[str]) -> set[str]:
        """Which of these record keys the trigger already handed on (see ``mark_handed_on``)."""

    @abstractmethod
    async def mark_handed_on(
        self, trigger: str, keys: Collection[str], now: float, keep_s: float
    ) -> None:
        """Remember record keys as handed on by the trigger, so a pushed record and the same
        record found by polling (or a webhook retried) go out once; keys older than ``keep_s``
        are forgotten."""

    # -- workflow runs --------------------------------------------------------------------

    @abstractmethod
    async def create_run(self, workflow: str, key: str, trigger: bytes, now: float) -> int | None:
        """Durably create a ``queued`` run; its id, or None when the workflow already has a run
        for ``key`` (one trigger record starts one run, however often it is delivered)."""

    @abstractmethod
    async def claim_run(self, id: int, owner: str, now: float, ttl_s: float) -> bool:
        """Mark the run ``running`` by ``owner`` until ``now + ttl_s``, if it is queued, or
        running under a claim that expired or is ``owner``'s own (a renewal). False otherwise:
        another process runs it, or it is finished."""

    @abstractmethod
    async def record_step(self, step: StepRecord) -> None:
        """Durably save a step (replacing the run's earlier record of the same index)."""

    @abstractmethod
    async def finish_run(self, id: int, state: RunState, error: str | None, now: float) -> None:
        """Set the run's state (``queued`` gives it back for later) and drop its claim."""

    @abstractmethod
    async def retry_run(self, id: int, now: float) -> bool:
        """Queue a ``failed`` run again, to resume at its failed step; False if it is not failed."""

    @abstractmethod
    async def workflow_run(self, id: int) -> WorkflowRun | None:
        """One run with its steps in order, or None."""

    @abstractmethod
    async def workflow_runs(
        self, workflow: str, limit: int = 50, before_id: int | None = None
    ) -> list[WorkflowRun]:
        """A workflow's runs, newest first (without their steps), ids below ``before_id``."""

    @abstractmethod
    async def unfinished_runs(self, now: float, limit: int = 100) -> list[int]:
        """Ids of the runs to (re)start, oldest first: queued, or running under an expired
        claim (its process died)."""

    # -- reporting and upkeep -----------------------------------------------------------

    @abstractmethod
    async def stats(self, destination: str, sources: Collection[str]) -> DestinationStats:
        """Counters and queue depths of one destination."""

    @abstractmethod
    async def prune(
        self, destinations: Collection[str], received_before: float | None = None
    ) -> int:
        """Delete logged events that are no longer needed; returns how many.

        An event goes once the cursor of every one of ``destinations`` (the configured ones) is
        at or past it and no pending row, sent batch or dead letter of any destination refers to
        it, and, with ``received_before`` (unix time), once it was received before that: a
        retention that keeps delivered events for a while. Nothing goes from the first event
        received at or after that time on. With no destinations nothing goes. Works in small
        transactions, so appends keep flowing.
        """

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the store can commit right now (for /ready)."""

    @abstractmethod
    async def close(self) -> None:
        """Finish pending commits and release resources."""
