"""Delivering one destination (or one partition of its users): a continuous loop that keeps
every lane busy.

The loop reads pending events that are due and new events, filters and transforms them, plans
them into deliveries (``plan``: batches, each waiting only for the deliveries holding earlier
events of its own users) and starts them, up to ``concurrency`` requests at a time; it reads
more as soon as there is room, not when earlier deliveries end. Every ``COMMIT_EVERY_S`` it
commits the outcomes decided so far together with the cursor in one ``Store.record``. The
cursor moves only past events whose outcome is in that commit or an earlier one: events still
being delivered hold it back, so a crash sends them again (at-least-once).

So that one slow user holds back no one else, per-user order is kept per user: a user with a
delivery under way has their later events wait for it in memory, and a request outstanding for
``PARK_AFTER_S`` has its events *parked*: recorded as their users' pending heads (due only once
the request has surely ended), the same users' later events held behind them, exactly as a
retryable failure parks them. The cursor moves on; when the request ends its outcome replaces
the parked row. A user whose event fails with a retryable error is *blocked* the same way: the
store parks the event as the user's pending head and holds their later events behind it.

Two breakers stop sending. When every lane's request fails in a row (the destination is down),
the loop stops reading new events and only probes with a few due retries, so an outage parks a
page of events instead of the whole backlog. When outcomes cannot be recorded (disk full,
database down), nothing new is sent until they are: what was sent is kept in memory and
recorded once the store is back, so a store outage sends nothing twice unless the process
dies meanwhile.

Where the destination accepts a batch without saying whether each of its jobs went through
(Custify's asynchronous ``POST /batch``), the batch's events are recorded as *sent*, not
delivered, and the batch is checked later, on a budget (see ``checks``): each event is then
delivered, retried or dead-lettered with the destination's reason. Events of a batch that is
not checked, or whose outcome cannot be had in time, are counted delivered, unverified.

With several worker processes, each delivers the partitions it leases (see ``share``); a
worker then sees only its partition's users, so nothing here changes, except fencing: every
round carries the lease's token, and a worker sends only while its lease is surely its own
(see ``lease``). A round the store refuses because another worker took the lease over
(``Fenced``) ends the worker: what it has in memory is the new holder's to redo, and trying
again could only be refused again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec

from csroute.capture.live import Capture
from csroute.config import DeliveryPolicy
from csroute.destinations.base import (
    UNKNOWN_JOB,
    Batching,
    BatchReport,
    Delivery,
    DestinationType,
    JobOutcome,
    RateLimit,
    Rejection,
    Request,
)
from csroute.events.model import LoggedEvent
from csroute.router import metrics
from csroute.router.checks import CheckBudget
from csroute.router.filters import EventFilter
from csroute.router.lease import Lease
from csroute.router.plan import Unit, plan
from csroute.router.ratelimit import Limiter, Limiters
from csroute.router.redact import redact, secrets_of
from csroute.router.sender import MAX_KEPT_BODY, MAX_READ_BODY, Attempt, new_session, send
from csroute.router.traits import TraitsMemory
from csroute.store.base import (
    FORGOTTEN,
    WHOLE,
    BatchCheck,
    DeadLetter,
    Fenced,
    Partition,
    PendingEvent,
    Retry,
    Round,
    SentBatch,
    SentJob,
    Store,
)

log = logging.getLogger("csroute.router")

COMMIT_EVERY_S = 0.05
"""How often outcomes are committed while deliveries are under way."""
PARK_AFTER_S = 1.0
"""How long a request may be outstanding before its events are parked (see the module doc)."""
STORE_RETRY_S = 1.0
"""How often recording is tried again while the store cannot commit."""
READ_AHEAD_TARGET_S = 5.0
"""How much a rate-limited worker reads ahead, in seconds of its limiter's current rate."""
MAX_PAGES_READ_AHEAD = 10
"""A bound on a rate-limited worker's read-ahead, whatever its rate: memory stays small."""
FORGOTTEN_REFRESH_S = 1.0
"""How stale the list of forgotten users may be (a deletion request takes effect within it)."""
CHECKS_READ_S = 1.0
"""How often the store is asked for sent batches due for their check."""
RECHECK_AFTER_S = 10.0
"""The least wait before a batch is checked again (still running, or its check failed)."""


@dataclass(slots=True)
class Item:
    """One event in memory, with its retry history and the requests it became."""

    event: LoggedEvent
    attempts: int = 0
    first_failed_at: float | None = None
    pending: bool = False  # parked in the store (a due head, a held event, or a parked one)
    requests: list[Request] = field(default_factory=list)
    sent_at: float | None = None  # monotonic time its first request went out
    handed_back: bool = False  # held in the store while waiting here: the store sends it


@dataclass(slots=True)
class Closed:
    """Outcomes taken out of the loop for one commit, with what to update once it is in."""

    round: Round
    users: set[str]  # users of the events it decides
    failed: set[str]  # users whose event failed in it


def effective_delivery(delivery: Delivery, policy: DeliveryPolicy) -> Delivery:
    """The destination's API facts with the operator's per-destination overrides applied."""
    rate, batching = delivery.rate_limit, delivery.batching
    if policy.rate_limit_per_s is not None:
        key = rate.key if rate else f"override:{id(delivery)}"
        rate = RateLimit(policy.rate_limit_per_s, 1.0, key)
    if batching is not None and policy.batch_size is not None:
        # The operator may lower the batch size, never raise it past what the API accepts
        # (a destination's own settings are where an account's higher limit goes).
        size = min(policy.batch_size, batching.max_size)
        batching = Batching(size, batching.combine, batching.accepts, batching.one_per_user)
    timeout = policy.timeout_s if policy.timeout_s is not None else delivery.timeout_s
    return Delivery(
        rate, batching, delivery.retryable, delivery.explain, timeout, delivery.outcomes
    )


def decided(outcome: Round) -> set[int]:
    """The seqs whose outcome ``outcome`` records."""
    return {
        *outcome.done,
        *(r.seq for r in outcome.retry),
        *(seq for seq, _ in outcome.held),
    }


_RANK = {True: 0, None: 1, False: 2}  # job went through, unknown, failed: the worst one counts


def _per_event(jobs: list[Item], report: BatchReport) -> dict[int, tuple[Item, JobOutcome]]:
    """Each event's outcome from its jobs' (in job order): a failed job fails the event, an
    unknown one leaves it unknown."""
    worst: dict[int, tuple[Item, JobOutcome]] = {}
    for item, job in zip(jobs, report.jobs, strict=True):
        seen = worst.get(item.event.seq)
        if seen is None or _RANK[_verdict(job)] > _RANK[_verdict(seen[1])]:
            worst[item.event.seq] = (item, job)
    return worst


def _verdict(job: JobOutcome) -> bool | None:
    return None if job.status is None else job.ok


class DestinationWorker:
    def __init__(
        self,
        *,
        name: str,
        dtype: DestinationType[Any],
        settings: Any,
        policy: DeliveryPolicy,
        sources: Collection[str],
        event_filter: EventFilter,
        store: Store,
        limiters: Limiters,
        partition: Partition = WHOLE,
        lease: Lease | None = None,
        capture: Capture | None = None,
    ) -> None:
        self.name = name
        self.partition = partition
        self.lease = lease  # None: the only worker of a store used without leases (tests)
        self.dtype = dtype
        self.settings = settings
        self.policy = policy
        self.sources = tuple(sources)
        self.filter = event_filter
        self.store = store
        self.capture = capture or Capture()
        self.session: aiohttp.ClientSession | None = None  # opened by run()
        self.delivery = effective_delivery(dtype.delivery(settings), policy)
        self.timeout = aiohttp.ClientTimeout(total=self.delivery.timeout_s)
        self.limiter: Limiter | None = (
            limiters.get(self.delivery.rate_limit) if self.delivery.rate_limit else None
        )
        self.secrets = secrets_of(dtype, settings)
        self.slots = asyncio.Semaphore(policy.concurrency)
        self.wake = asyncio.Event()
        self.forgotten: dict[str, int] = {}
        self._forgotten_read_at = 0.0
        # What the store knows: users with pending rows, and the cursor last handed to it.
        self.blocked: set[str] = set()
        self.cursor: int | None = None
        self.read_at: int | None = None  # the last seq read (None: read from the cursor)
        # What is in memory: events read and not yet committed, and the deliveries under way.
        self.items: dict[int, Item] = {}
        self.busy: Counter[str] = Counter()  # user -> their events in deliveries under way
        self.in_flight = 0  # events in deliveries under way
        self.latest: dict[str, Unit[Item]] = {}  # user -> their last delivery under way
        self.tasks: set[asyncio.Task[None]] = set()
        self.ended = asyncio.Event()  # set while no delivery is under way
        self.parked = asyncio.Event()  # set, and replaced, each time events are parked
        # Outcomes not yet committed: the open round, and closed ones the store refused.
        self.outcome = self._new_round()
        self.failed: set[str] = set()  # users whose later events must be held
        self.failed_now: set[str] = set()  # users failed in the open round
        self.unrecorded: list[Closed] = []
        self.recording = asyncio.Event()  # clear while the store cannot record
        self.recording.set()
        # The destination's breaker.
        self.failures_in_row = 0
        self.failed_rounds = 0
        self.breaker_until = 0.0
        # Checks of accepted batches: the budget, and the batches being checked or rechecked.
        outcomes = self.delivery.outcomes
        self.checks = CheckBudget(outcomes.every) if outcomes is not None else None
        self.checking: set[str] = set()  # under way, or decided and not yet committed
        self.rechecks: set[str] = set()  # checked once already by this worker
        self._checks_read_at = 0.0
        self.fenced = False  # another worker took the lease over: this worker is done

    def _new_round(self) -> Round:
        token = self.lease.token if self.lease is not None else None
        return Round(self.name, 0.0, partition=self.partition, token=token)

    # -- the loop ------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event, idle_s: float = 0.1) -> None:
        self.blocked = await self.store.blocked_users(self.name, self.partition)
        async with new_session(self.policy.concurrency) as self.session:
            try:
                await self._loop(stopping, idle_s)
            finally:
                for task in self.tasks:
                    task.cancel()
                await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _loop(self, stopping: asyncio.Event, idle_s: float) -> None:
        """Start what may start and commit what is decided, again as soon as new events come
        in; until told to stop, then finish the deliveries under way and commit them."""
        committed_at = 0.0
        while True:
            stop = stopping.is_set()
            finished = stop and not self.tasks  # nothing more can be decided
            started = False
            self.wake.clear()
            try:
                if not stop and self.recording.is_set():
                    started = await self._fill()
                    await self._check_batches()
                if finished or time.monotonic() - committed_at >= COMMIT_EVERY_S:
                    committed_at = time.monotonic()
                    await self._commit()
            except Exception:
                log.exception("delivery loop failed", extra={"destination": self.name})
                await asyncio.sleep(1.0)
            if self.fenced or (finished and not self.unrecorded):
                return
            if not self.recording.is_set():
                if stop:
                    return  # the store is down: what is not recorded is sent again later
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), STORE_RETRY_S)
            elif self.tasks:
                await self._under_way(committed_at + COMMIT_EVERY_S - time.monotonic())
            elif not started:
                wait = idle_s
                if self.breaker_until:
                    wait = min(max(self.breaker_until - time.time(), 0.0), 5.0) or idle_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), wait)

    async def _under_way(self, timeout: float) -> None:
        """Wait while deliveries are under way: until new events come in, every delivery has
        ended, or it is time to commit."""
        woken = asyncio.ensure_future(self.wake.wait())
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            await asyncio.wait(
                {woken, ended}, timeout=max(timeout, 0.0), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            woken.cancel()
            ended.cancel()

    async def _fill(self) -> bool:
        """Read what may start now and start it; returns whether anything was read."""
        now = time.time()
        breaker_open = now < self.breaker_until
        read_ahead = self._read_ahead()
        room = read_ahead - self.in_flight
        due: list[PendingEvent] = []
        if room > 0:
            # A user whose failure is not committed yet has a stale head in the store: it is
            # taken once the commit has moved the head (delivering it would only drop it again).
            here = self.failed | set(self.busy) | {i.event.user_key for i in self.items.values()}
            limit = self.policy.concurrency if breaker_open else room
            due = [
                p
                for p in await self.store.due(self.name, now, limit, self.partition)
                if p.event.user_key not in here
            ]
        new: list[LoggedEvent] = []
        room -= len(due)
        # Reading waits for half the room: a stream of one-event reads would cost more than
        # the events.
        if not breaker_open and room > 0 and (room >= read_ahead // 2 or not self.busy):
            page = await self.store.read_new(
                self.name, self.sources, room, self.partition, after=self.read_at
            )
            self.read_at, new = page.cursor, page.events
        if not due and not new:
            return False

        await self._refresh_forgotten(now)
        retries = [Item(p.event, p.attempts, p.first_failed_at, True) for p in due]
        fresh = [Item(e) for e in new]
        for item in (*retries, *fresh):
            self.items[item.event.seq] = item
        memory = await self._traits_memory([i.event for i in (*retries, *fresh)])
        deliverable: list[Item] = []
        for item in retries:
            self._prepare(item, deliverable, memory)
        for item in fresh:
            user = item.event.user_key
            if user in self.blocked or user in self.failed:
                self._hold(item)
            else:
                self._prepare(item, deliverable, memory)
        if memory is not None:
            self.outcome.traits.update(memory.changed())
        for unit in plan(deliverable, self.delivery.batching):
            self._start(unit)
        return True

    async def _refresh_forgotten(self, now: float) -> None:
        if now - self._forgotten_read_at >= FORGOTTEN_REFRESH_S:
            self.forgotten = await self.store.forgotten(self.name)
            self._forgotten_read_at = now

    def _read_ahead(self) -> int:
        """Events in memory at most: a page, or what the rate limit lets through in
        READ_AHEAD_TARGET_S.

        Under a slow limit (Kustomer's 300 a minute) a full page would wait minutes for the
        limiter while holding the cursor back: a crash would send all of it again. Under a
        generous one (Custify's batches of 100), a page would last a second.
        """
        if self.limiter is None:
            return self.policy.page_size
        batch = self.delivery.batching.max_size if self.delivery.batching else 1
        budget = math.ceil(self.limiter.rate * READ_AHEAD_TARGET_S * batch)
        return max(
            self.policy.concurrency, min(MAX_PAGES_READ_AHEAD * self.policy.page_size, budget)
        )

    # -- committing -----------------------------------------------------------------------

    async def _commit(self) -> None:
        """Commit the outcomes decided so far (and any the store refused before), in order.

        While the store refuses, ``recording`` stays clear: deliveries not yet started wait,
        and the loop reads nothing new.
        """
        closed = self._close()
        if closed is not None:
            self.unrecorded.append(closed)
        while self.unrecorded:
            closed = self.unrecorded[0]
            try:
                still_blocked = await self.store.record(closed.round)
            except Fenced as e:
                self._drop(e)
                return
            except Exception:
                if self.recording.is_set():
                    log.exception(
                        "cannot record delivery outcomes; sending nothing new until they are",
                        extra={"destination": self.name},
                    )
                self.recording.clear()
                return
            del self.unrecorded[0]
            if not self.recording.is_set():
                log.info("delivery outcomes recorded again", extra={"destination": self.name})
                self.recording.set()
            self.blocked = (self.blocked - closed.users) | still_blocked
            self.checking.difference_update(closed.round.checked)
            self.checking.difference_update(batch for batch, _ in closed.round.postponed)
            self._count(closed.round)
        failing = self.failed_now.union(*(c.failed for c in self.unrecorded))
        self.failed = {u for u in self.failed if u in failing or self.busy[u]}

    def _drop(self, refusal: Fenced) -> None:
        """The lease was taken over: forget everything about the partition, at once.

        Deliveries under way are cancelled (a request already out is the one duplicate a
        takeover may cost); nothing is sent after this, and nothing retried: the new holder
        starts from what the store has.
        """
        unrecorded = len(self.items) + sum(len(decided(c.round)) for c in self.unrecorded)
        task = asyncio.current_task()
        if task is None or not task.cancelling():  # else the share said so, and cancels it
            log.warning(
                "partition taken over by another worker; stopping it without recording",
                extra={
                    "destination": self.name,
                    "partition": self.partition[0],
                    "reason": str(refusal),
                    "events": unrecorded,
                },
            )
        self.fenced = True
        self.items.clear()
        self.unrecorded.clear()
        self.outcome = self._new_round()
        for task in self.tasks:
            task.cancel()

    def _close(self) -> Closed | None:
        """Take the open round's outcomes out, with the cursor as far as they allow."""
        outcome = self.outcome
        done = decided(outcome)
        self._park(outcome, done)
        users = set()
        for seq in done:
            item = self.items.pop(seq, None)
            if item is not None:
                users.add(item.event.user_key)
        undecided = [seq for seq, item in self.items.items() if not item.pending]
        cursor = min(undecided) - 1 if undecided else self.read_at
        if cursor == self.cursor:
            cursor = None
        if cursor is None and not done and not outcome.traits and not outcome.postponed:
            return None
        if cursor is not None:
            self.cursor = cursor
        outcome.cursor, outcome.now = cursor, time.time()
        closed = Closed(outcome, users, self.failed_now)
        self.outcome, self.failed_now = self._new_round(), set()
        self._trip_breaker(outcome)
        return closed

    def _park(self, outcome: Round, done: set[int]) -> None:
        """Park the events of requests outstanding for ``PARK_AFTER_S`` as their users'
        pending heads, due once the request has surely ended, and hold those users' later
        events behind them, so that the cursor, and everybody else, moves on."""
        started_before = time.monotonic() - PARK_AFTER_S
        undecided = [
            item for seq, item in self.items.items() if not item.pending and seq not in done
        ]
        users = {
            item.event.user_key
            for item in undecided
            if item.sent_at is not None and item.sent_at <= started_before
        }
        if not users:
            return
        now = time.time()
        ends = now + self.delivery.timeout_s + PARK_AFTER_S
        error = f"parked: request outstanding for over {PARK_AFTER_S:g}s"
        for item in undecided:
            seq, user = item.event.seq, item.event.user_key
            if user not in users:
                continue
            done.add(seq)
            if item.sent_at is None:
                self._hold(item)
                continue
            first_failed = item.first_failed_at or now
            outcome.retry.append(Retry(seq, user, item.attempts, ends, first_failed, error))
            item.pending = True
        self.failed |= users
        self.parked.set()  # deliveries waiting for these users need not wait any longer
        self.parked = asyncio.Event()

    # -- preparing ------------------------------------------------------------------------

    async def _traits_memory(self, events: list[LoggedEvent]) -> TraitsMemory | None:
        if not self.dtype.remembers_traits:
            return None
        users = {e.user_key for e in events}
        stored = await self.store.traits(self.name, users)
        for r in [*(c.round for c in self.unrecorded), self.outcome]:  # learnt, not yet stored
            stored.update((u, t) for u, t in r.traits.items() if u in users)
        return TraitsMemory(stored)

    def _forgotten(self, item: Item) -> bool:
        """Whether the user's deletion was requested after this event; if so it is filtered."""
        upto = self.forgotten.get(item.event.user_key)
        if upto is None or item.event.seq > upto:
            return False
        self.outcome.filtered.append((item.event.seq, FORGOTTEN))
        self.capture.settled(self, item, "filtered", reason=FORGOTTEN)
        return True

    def _hold(self, item: Item) -> None:
        """Park ``item`` behind its user's pending head; the store hands it back in turn."""
        self.outcome.held.append((item.event.seq, item.event.user_key))
        item.pending = item.handed_back = True

    def _prepare(self, item: Item, deliverable: list[Item], memory: TraitsMemory | None) -> None:
        """Filter and transform one event; what remains is to be delivered."""
        outcome = self.outcome
        seq = item.event.seq
        if self._forgotten(item):
            return
        try:
            event = msgspec.json.decode(item.event.payload)
            reason = self.filter.reason(event)
            if reason is not None:
                outcome.filtered.append((seq, reason))
                self.capture.settled(self, item, "filtered", reason=reason)
                return
            traits = memory.see(item.event.user_key, event) if memory is not None else {}
            result = self.dtype.transform(event, self.settings, traits)
        except Exception as e:  # a bug or a corrupt payload must not stall the destination
            log.exception("transform failed", extra={"destination": self.name, "seq": seq})
            outcome.dead.append(
                DeadLetter(seq, item.event.user_key, item.attempts, f"transform failed: {e!r}")
            )
            self.capture.settled(self, item, "dead-lettered", reason=f"transform failed: {e!r}")
            return
        if isinstance(result, Rejection):
            outcome.rejected.append((seq, result.message))
            self.capture.settled(self, item, "rejected", reason=result.message)
            return
        if not result:  # nothing to send for this event: done
            outcome.delivered.append(seq)
            self.capture.settled(self, item, "delivered", reason="nothing to send")
            return
        item.requests = result
        deliverable.append(item)

    # -- delivering -----------------------------------------------------------------------

    def _start(self, unit: Unit[Item]) -> None:
        """Start a unit; it waits for its users' deliveries under way from earlier reads too."""
        self.in_flight += len(unit.items)
        for item in unit.items:
            user = item.event.user_key
            self.busy[user] += 1
            earlier = self.latest.get(user)
            if earlier is not None and earlier is not unit and earlier not in unit.after:
                unit.after.append(earlier)
            self.latest[user] = unit
        task = asyncio.create_task(self._deliver(unit))
        self.tasks.add(task)
        self.ended.clear()
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not self.tasks:
            self.ended.set()

    async def _deliver(self, unit: Unit[Item]) -> None:
        """Deliver one unit after the units it waits for, in one of ``concurrency`` lanes."""
        try:
            await self._after(unit)
            await self.recording.wait()
            async with self.slots:
                live = self._live(unit.items)
                try:
                    if unit.batch and len(live) > 1:
                        await self._deliver_batch(live)
                    elif live:
                        await self._deliver_item(live[0])
                except Exception as e:  # a bug must not leave events undecided for ever
                    log.exception("delivery failed", extra={"destination": self.name})
                    done = decided(self.outcome)
                    failure = Attempt(None, b"", f"internal error: {e!r}")
                    for item in live:
                        seq = item.event.seq
                        if seq in self.items and seq not in done:
                            self._settle(item, failure, item.requests)
        finally:
            unit.done.set()
            for item in unit.items:
                user = item.event.user_key
                self.busy[user] -= 1
                if not self.busy[user]:
                    del self.busy[user]
                if self.latest.get(user) is unit:
                    del self.latest[user]
            self.in_flight -= len(unit.items)
            if self.in_flight * 2 <= self._read_ahead() < (self.in_flight + len(unit.items)) * 2:
                self.wake.set()  # room for a read: no need to wait for the next commit

    async def _after(self, unit: Unit[Item]) -> None:
        """Wait for the units holding earlier events of this unit's users, except for users
        parked meanwhile: their events here are handed back to the store."""
        users = {i.event.user_key for i in unit.items}
        for earlier in unit.after:
            if len(users) == 1:  # a parked user's events here are handed back: no hurry
                await earlier.done.wait()
            while not earlier.done.is_set():
                mine = {i.event.user_key for i in unit.items if not i.handed_back}
                if mine.isdisjoint(i.event.user_key for i in earlier.items):
                    break
                done = asyncio.ensure_future(earlier.done.wait())
                parked = asyncio.ensure_future(self.parked.wait())
                try:
                    await asyncio.wait({done, parked}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    done.cancel()
                    parked.cancel()

    def _live(self, items: Iterable[Item]) -> list[Item]:
        """The items still to send: not handed back to the store, and not behind a failed
        event of their user (those are held, unless the store holds them already)."""
        live = []
        for item in items:
            if item.handed_back:
                continue
            if item.event.user_key in self.failed:
                if item.pending:  # the store holds it already: it comes back in turn
                    self.items.pop(item.event.seq, None)
                else:
                    self._hold(item)
                continue
            live.append(item)
        return live

    async def _deliver_item(self, item: Item) -> None:
        for request in item.requests:
            attempt = await self._send(request, [item])
            if not attempt.ok:
                self._settle(item, attempt, [request])
                return
        self._delivered([item], attempt)

    async def _deliver_batch(self, items: list[Item]) -> None:
        """One batch request; a batch the destination refuses is split in halves, and each
        half tried on its own, so that only the events it refuses are dead-lettered."""
        assert self.delivery.batching is not None
        if len(items) == 1:
            await self._deliver_item(items[0])
            return
        requests = [r for item in items for r in item.requests]
        # An answer that may report each job's outcome is read whole.
        keep = MAX_READ_BODY if self.delivery.outcomes is not None else MAX_KEPT_BODY
        attempt = await self._send(self.delivery.batching.combine(requests), items, keep)
        if attempt.ok:
            self._accepted(items, attempt)
        elif attempt.status is not None and not self._retryable(attempt):
            half = len(items) // 2
            await self._deliver_batch(items[:half])
            rest = self._live(items[half:])  # a user who failed in the first half waits
            if rest:
                await self._deliver_batch(rest)
        else:
            for item in items:
                self._settle(item, attempt, item.requests)

    async def _send(
        self, request: Request, items: list[Item], keep: int = MAX_KEPT_BODY
    ) -> Attempt:
        if self.limiter is not None:
            await self.limiter.acquire()
        if self.lease is not None:
            await self.lease.held()
        started = time.monotonic()
        for item in items:
            if item.sent_at is None:
                item.sent_at = started
        assert self.session is not None
        attempt = await send(self.session, request, self.timeout, self.secrets, keep)
        metrics.REQUEST_SECONDS.labels(self.name).observe(time.monotonic() - started)
        if attempt.status == 429:
            metrics.THROTTLED.labels(self.name).inc()
            if self.limiter is not None:
                self.limiter.throttled_by_server(attempt.retry_after_s)
        return attempt

    # -- outcomes -------------------------------------------------------------------------

    def _delivered(self, items: list[Item], attempt: Attempt, unverified: bool = False) -> None:
        self.outcome.delivered.extend(item.event.seq for item in items)
        self.failures_in_row = 0
        reason = "accepted in a batch; outcome not checked" if unverified else ""
        if unverified:
            self.outcome.unverified += len(items)
        for item in items:
            self.capture.settled(self, item, "delivered", attempt, reason)

    def _accepted(self, items: list[Item], attempt: Attempt) -> None:
        """A batch the destination accepted: settled by the per-job outcomes in its answer if
        it gives them, else sent, to be checked later, or delivered unverified (see ``checks``)."""
        outcomes = self.delivery.outcomes
        if outcomes is None or self.checks is None:
            self._delivered(items, attempt)
            return
        jobs = [item for item in items for _ in item.requests]
        report = outcomes.report(attempt.body, len(jobs))
        if report is not None and report.finished:
            self._judge(jobs, report, attempt)
            return
        batch_id = outcomes.batch_id(attempt.body)
        if batch_id is None or not self.checks.after_batch():
            self._delivered(items, attempt, unverified=True)
            return
        now = time.time()
        sent = [SentJob(i.event.seq, i.event.user_key, i.attempts, i.first_failed_at) for i in jobs]
        self.outcome.sent.append(
            SentBatch(batch_id, sent, now + outcomes.delay_s, now + outcomes.retention_s)
        )
        self.failures_in_row = 0
        for item in items:
            self.capture.settled(self, item, "sent", attempt, f"batch {batch_id}")

    def _judge(self, jobs: list[Item], report: BatchReport, attempt: Attempt) -> bool:
        """Settle each event of a batch by its jobs' outcomes; returns whether any failed."""
        failed = False
        for item, job in _per_event(jobs, report).values():
            if self._forgotten(item):
                # Their deletion was requested since the batch was sent: a failed job must not
                # become a dead letter that keeps their data.
                continue
            verdict = _verdict(job)
            if verdict is None:
                self._delivered([item], attempt, unverified=True)
            elif verdict:
                self._delivered([item], attempt)
            else:
                failed = True
                status = job.status
                self._settle(item, Attempt(status, job.body, f"HTTP {status}"), item.requests)
        return failed

    # -- checking accepted batches ---------------------------------------------------------

    async def _check_batches(self) -> None:
        """Start the checks that are due, reading the store at most every CHECKS_READ_S."""
        now = time.time()
        if self.checks is None or now - self._checks_read_at < CHECKS_READ_S:
            return
        self._checks_read_at = now
        due = await self.store.batch_checks(self.name, now, self.policy.concurrency, self.partition)
        if due:
            await self._refresh_forgotten(now)
        for check in due:
            if check.batch_id in self.checking:
                continue
            self.checking.add(check.batch_id)
            task = asyncio.create_task(self._check(check))
            self.tasks.add(task)
            self.ended.clear()
            task.add_done_callback(self._ended)

    async def _check(self, check: BatchCheck) -> None:
        """Read one sent batch's outcome and settle its events (or check it again later)."""
        outcomes, budget = self.delivery.outcomes, self.checks
        assert outcomes is not None and budget is not None
        batch = check.batch_id
        jobs = [Item(j.event, j.attempts, j.first_failed_at) for j in check.jobs]
        try:
            await self.recording.wait()
            if time.time() >= check.expires_at:
                self._unchecked(batch, jobs, "the destination no longer keeps its outcome")
                return
            if batch in self.rechecks and not budget.again():
                self._recheck(check, jobs, "no check budget left")
                return
            self.rechecks.add(batch)
            async with self.slots:
                attempt = await self._send(outcomes.check(batch), [], MAX_READ_BODY)
            report = outcomes.report(attempt.body, len(jobs)) if attempt.ok else None
            if attempt.status == 404:
                self._unchecked(batch, jobs, "the destination does not know the batch")
            elif attempt.ok and report is None:
                self._unchecked(batch, jobs, "the destination reported no per-job outcome")
            elif report is not None and report.finished:
                budget.found(self._judge(jobs, report, attempt))
                self.outcome.checked.append(batch)
                self.rechecks.discard(batch)
            else:
                self._recheck(check, jobs, attempt.error or "still running")
        except Exception:  # a bug must not stop deliveries; the check is read again later
            log.exception("checking a batch failed", extra={"destination": self.name})
            self.checking.discard(batch)

    def _recheck(self, check: BatchCheck, jobs: list[Item], why: str) -> None:
        """Check the batch again later, while the destination keeps its outcome."""
        assert self.delivery.outcomes is not None
        later = time.time() + max(self.delivery.outcomes.delay_s, RECHECK_AFTER_S)
        if later >= check.expires_at:
            self._unchecked(check.batch_id, jobs, why)
        else:
            self.outcome.postponed.append((check.batch_id, later))

    def _unchecked(self, batch: str, jobs: list[Item], why: str) -> None:
        """The batch's outcome cannot be had: its events count delivered, unverified."""
        log.info(
            "batch outcome unknown; counted delivered, unverified",
            extra={"destination": self.name, "batch": batch, "reason": why},
        )
        unknown = BatchReport(True, [UNKNOWN_JOB] * len(jobs))
        self._judge(jobs, unknown, Attempt(None, b"", ""))
        self.outcome.checked.append(batch)
        self.rechecks.discard(batch)

    def _retryable(self, attempt: Attempt) -> bool:
        return attempt.status is None or self.delivery.retryable(attempt.status)

    def _settle(self, item: Item, attempt: Attempt, requests: list[Request]) -> None:
        """A failed attempt: park the event for a retry, or give up on it."""
        now = time.time()
        seq, user = item.event.seq, item.event.user_key
        attempts = item.attempts + 1
        first_failed = item.first_failed_at or now
        error = self._describe(attempt)
        retryable = self._retryable(attempt)
        exhausted = (
            attempts >= self.policy.max_attempts
            and now - first_failed >= self.policy.max_retry_age_s
        )
        if retryable and not exhausted:
            next_at = now + self._backoff(attempts, attempt.retry_after_s)
            self.outcome.retry.append(Retry(seq, user, attempts, next_at, first_failed, error))
            self.capture.settled(self, item, "retrying", attempt, error)
            self.failed.add(user)
            self.failed_now.add(user)
            self.failures_in_row += 1
            return
        if retryable:
            error = f"gave up after {attempts} attempts: {error}"
        shown = msgspec.json.encode([redact(r, self.secrets) for r in requests])
        self.outcome.dead.append(
            DeadLetter(
                seq, user, attempts, error, shown, attempt.status, attempt.body[:MAX_KEPT_BODY]
            )
        )
        self.capture.settled(self, item, "dead-lettered", attempt, error)
        log.warning(
            "dead-lettered",
            extra={"destination": self.name, "seq": seq, "status": attempt.status, "reason": error},
        )

    def _describe(self, attempt: Attempt) -> str:
        """The error in words, without NUL: a destination may echo one, and PostgreSQL's text
        columns refuse it (the whole commit would fail, holding back every user)."""
        if attempt.status is None:
            text = attempt.error
        elif self.delivery.explain is not None:
            text = f"HTTP {attempt.status}: {self.delivery.explain(attempt.status, attempt.body)}"
        else:
            snippet = attempt.body[:300].decode("utf-8", "replace").strip()
            text = f"HTTP {attempt.status}: {snippet}" if snippet else f"HTTP {attempt.status}"
        return text.replace("\x00", "\ufffd")

    def _backoff(self, attempts: int, retry_after_s: float | None) -> float:
        """Exponential backoff with equal jitter, never sooner than the server asked."""
        ceiling = min(self.policy.backoff_max_s, self.policy.backoff_base_s * 2.0 ** (attempts - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        return max(delay, retry_after_s or 0.0)

    def _count(self, outcome: Round) -> None:
        name = self.name
        if outcome.delivered:
            metrics.DELIVERED.labels(name).inc(len(outcome.delivered))
        if outcome.unverified:
            metrics.UNVERIFIED.labels(name).inc(outcome.unverified)
        if outcome.retry:
            metrics.RETRIED.labels(name).inc(len(outcome.retry))
        if outcome.dead:
            metrics.DEAD.labels(name).inc(len(outcome.dead))
        if outcome.rejected:
            metrics.REJECTED.labels(name).inc(len(outcome.rejected))
            # One line per round, not per event: a stream of page views that a destination
            # refuses by design must not flood the log.
            reasons = Counter(reason for _, reason in outcome.rejected)
            log.info(
                "rejected by the destination", extra={"destination": name, "reasons": dict(reasons)}
            )
        for _, reason in outcome.filtered:
            metrics.FILTERED.labels(name, reason.partition(":")[0]).inc()

    def _trip_breaker(self, outcome: Round) -> None:
        """Every lane's request failed in a row, and nothing went through: the destination
        is down. Pause new deliveries, longer each time, probing only with due retries."""
        if self.failures_in_row >= self.policy.concurrency and not outcome.delivered:
            self.failures_in_row = 0
            self.failed_rounds += 1
            pause = self.policy.backoff_base_s * 2.0 ** min(self.failed_rounds - 1, 16)
            self.breaker_until = outcome.now + min(self.policy.backoff_max_s, pause)
            log.warning(
                "destination failing; pausing new deliveries",
                extra={
                    "destination": self.name,
                    "seconds": round(self.breaker_until - outcome.now, 1),
                    "reason": outcome.retry[-1].error if outcome.retry else "",
                },
            )
        elif outcome.delivered:
            self._close_breaker()

    def _close_breaker(self) -> None:
        self.failed_rounds = 0
        self.breaker_until = 0.0
