"""Delivering one destination (or one partition of its users), in rounds: read, filter,
transform, deliver, record.

A round takes the pending events that are due and a page of new events, plans them into
deliveries (``plan``: batches filled across the round; each delivery waits only for those
holding earlier events of its own users, so per-user order holds while everything else runs in
parallel), delivers, and commits every outcome together with
the new cursor in one ``Store.record``. A user whose event fails with a retryable error is
*blocked*: the store parks that event as the user's pending head and holds their later events
behind it, while everybody else carries on.

When a whole round fails (the destination is down), a circuit breaker stops reading new
events and only probes with a few due retries, so an outage parks one page of events instead
of shovelling the whole backlog into the pending table.

With several worker processes, each delivers the partitions it leases (see ``share``); a
worker then sees only its partition's users, so nothing here changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec

from csroute.capture.live import Capture
from csroute.config import DeliveryPolicy
from csroute.destinations.base import (
    Batching,
    Delivery,
    DestinationType,
    RateLimit,
    Rejection,
    Request,
)
from csroute.events.model import LoggedEvent
from csroute.router import metrics
from csroute.router.filters import EventFilter
from csroute.router.plan import Unit, plan
from csroute.router.ratelimit import Limiter, Limiters
from csroute.router.redact import redact, secrets_of
from csroute.router.sender import Attempt, new_session, send
from csroute.router.traits import TraitsMemory
from csroute.store.base import FORGOTTEN, WHOLE, DeadLetter, Partition, Retry, Round, Store

log = logging.getLogger("csroute.router")

ROUND_TARGET_S = 5.0
"""How long a rate-limited round should last, at its limiter's current rate."""
MAX_PAGES_PER_ROUND = 10
"""A bound on a rate-limited round, whatever its rate: memory per round stays small."""
FORGOTTEN_REFRESH_S = 1.0
"""How stale the list of forgotten users may be (a deletion request takes effect within it)."""


@dataclass(slots=True)
class Item:
    """One event in this round, with its retry history and the requests it became."""

    event: LoggedEvent
    attempts: int = 0
    first_failed_at: float | None = None
    pending: bool = False  # already parked in the store (a due head or a held event)
    requests: list[Request] = field(default_factory=list)


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
    return Delivery(rate, batching, delivery.retryable, delivery.explain, timeout)


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
        capture: Capture | None = None,
    ) -> None:
        self.name = name
        self.partition = partition
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
        self.blocked: set[str] = set()
        self.cursor: int | None = None
        self.failed_rounds = 0
        self.breaker_until = 0.0
        self.wake = asyncio.Event()
        self.forgotten: dict[str, int] = {}
        self._forgotten_read_at = 0.0

    # -- the loop ------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event, idle_s: float = 0.1) -> None:
        self.blocked = await self.store.blocked_users(self.name, self.partition)
        async with new_session(self.policy.concurrency) as self.session:
            await self._loop(stopping, idle_s)

    async def _loop(self, stopping: asyncio.Event, idle_s: float) -> None:
        while not stopping.is_set():
            try:
                busy = await self.round()
            except Exception:
                log.exception("delivery round failed", extra={"destination": self.name})
                busy = False
                await asyncio.sleep(1.0)
            if not busy:
                self.wake.clear()
                wait = idle_s
                if self.breaker_until:
                    wait = min(max(self.breaker_until - time.time(), 0.0), 5.0) or idle_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), wait)

    async def round(self) -> bool:
        """One round; returns whether there was anything to do."""
        now = time.time()
        breaker_open = now < self.breaker_until
        size = self._round_size()
        limit = self.policy.concurrency if breaker_open else size
        due = await self.store.due(self.name, now, limit, self.partition)
        page = (
            None
            if breaker_open
            else await self.store.read_new(self.name, self.sources, size, self.partition)
        )
        new = page.events if page else []
        if not due and not new:
            if page is not None and page.cursor != self.cursor:
                await self.store.record(
                    Round(self.name, now, cursor=page.cursor, partition=self.partition)
                )
                self.cursor = page.cursor
            return False

        outcome = Round(
            self.name, now, cursor=page.cursor if page else None, partition=self.partition
        )
        if now - self._forgotten_read_at >= FORGOTTEN_REFRESH_S:
            self.forgotten = await self.store.forgotten(self.name)
            self._forgotten_read_at = now
        memory = await self._traits_memory([*(p.event for p in due), *new])
        deliverable: list[Item] = []
        for p in due:
            self._prepare(
                Item(p.event, p.attempts, p.first_failed_at, True), outcome, deliverable, memory
            )
        for event in new:
            if event.user_key in self.blocked:
                outcome.held.append((event.seq, event.user_key))
            else:
                self._prepare(Item(event), outcome, deliverable, memory)
        await self._deliver(plan(deliverable, self.delivery.batching), outcome)

        if memory is not None:
            outcome.traits = memory.changed()
        still_blocked = await self.store.record(outcome)
        if page is not None:
            self.cursor = page.cursor
        round_users = {p.event.user_key for p in due}.union(e.user_key for e in new)
        self.blocked = (self.blocked - round_users) | still_blocked
        self._count(outcome)
        self._trip_breaker(outcome, now)
        return True

    def _round_size(self) -> int:
        """Events per round: a page, or what the rate limit lets through in ROUND_TARGET_S.

        A round records its outcomes only when it ends, so under a slow limit (Kustomer's
        300 a minute) a full page would take minutes: status would lag, and a crash would send
        all of it again. Under a generous one (Custify's batches of 100), a page would last a
        second, and the pause between rounds would cost a share of the budget.
        """
        if self.limiter is None:
            return self.policy.page_size
        batch = self.delivery.batching.max_size if self.delivery.batching else 1
        budget = math.ceil(self.limiter.rate * ROUND_TARGET_S * batch)
        return max(
            self.policy.concurrency, min(MAX_PAGES_PER_ROUND * self.policy.page_size, budget)
        )

    # -- preparing ------------------------------------------------------------------------

    async def _traits_memory(self, events: list[LoggedEvent]) -> TraitsMemory | None:
        if not self.dtype.remembers_traits:
            return None
        users = {e.user_key for e in events}
        return TraitsMemory(await self.store.traits(self.name, users))

    def _prepare(
        self, item: Item, outcome: Round, deliverable: list[Item], memory: TraitsMemory | None
    ) -> None:
        """Filter and transform one event; what remains is to be delivered this round."""
        seq = item.event.seq
        upto = self.forgotten.get(item.event.user_key)
        if upto is not None and seq <= upto:
            outcome.filtered.append((seq, FORGOTTEN))
            self.capture.settled(self, item, "filtered", reason=FORGOTTEN)
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

    async def _deliver(self, units: list[Unit], outcome: Round) -> None:
        """Deliver the planned units, up to ``concurrency`` at a time, each after its deps."""
        failed_users: set[str] = set()
        slots = asyncio.Semaphore(self.policy.concurrency)

        async def deliver(unit: Unit) -> None:
            try:
                for earlier in unit.after:
                    await earlier.done.wait()
                live = []
                for item in unit.items:
                    if item.event.user_key not in failed_users:
                        live.append(item)
                    elif not item.pending:  # behind this user's failed event: park it
                        outcome.held.append((item.event.seq, item.event.user_key))
                if live:
                    async with slots:
                        if unit.batch:
                            await self._deliver_batch(live, outcome, failed_users)
                        else:
                            await self._deliver_item(live[0], outcome, failed_users)
            finally:
                unit.done.set()

        await asyncio.gather(*(deliver(unit) for unit in units))

    async def _deliver_item(self, item: Item, outcome: Round, failed_users: set[str]) -> None:
        for request in item.requests:
            attempt = await self._send(request)
            if not attempt.ok:
                self._settle(item, attempt, [request], outcome, failed_users)
                return
        outcome.delivered.append(item.event.seq)
        self.capture.settled(self, item, "delivered", attempt)

    async def _deliver_batch(
        self, items: list[Item], outcome: Round, failed_users: set[str]
    ) -> None:
        assert self.delivery.batching is not None
        if len(items) == 1:
            await self._deliver_item(items[0], outcome, failed_users)
            return
        requests = [r for item in items for r in item.requests]
        combined = self.delivery.batching.combine(requests)
        attempt = await self._send(combined)
        for item in items:
            if attempt.ok:
                outcome.delivered.append(item.event.seq)
                self.capture.settled(self, item, "delivered", attempt)
            else:
                self._settle(item, attempt, item.requests, outcome, failed_users)

    async def _send(self, request: Request) -> Attempt:
        if self.limiter is not None:
            await self.limiter.acquire()
        started = time.monotonic()
        assert self.session is not None
        attempt = await send(self.session, request, self.timeout, self.secrets)
        metrics.REQUEST_SECONDS.labels(self.name).observe(time.monotonic() - started)
        if attempt.status == 429:
            metrics.THROTTLED.labels(self.name).inc()
            if self.limiter is not None:
                self.limiter.throttled_by_server(attempt.retry_after_s)
        return attempt

    # -- outcomes -------------------------------------------------------------------------

    def _settle(
        self,
        item: Item,
        attempt: Attempt,
        requests: list[Request],
        outcome: Round,
        failed_users: set[str],
    ) -> None:
        """A failed attempt: park the event for a retry, or give up on it."""
        now = time.time()
        seq, user = item.event.seq, item.event.user_key
        attempts = item.attempts + 1
        first_failed = item.first_failed_at or now
        error = self._describe(attempt)
        retryable = attempt.status is None or self.delivery.retryable(attempt.status)
        exhausted = (
            attempts >= self.policy.max_attempts
            and now - first_failed >= self.policy.max_retry_age_s
        )
        if retryable and not exhausted:
            next_at = now + self._backoff(attempts, attempt.retry_after_s)
            outcome.retry.append(Retry(seq, user, attempts, next_at, first_failed, error))
            self.capture.settled(self, item, "retrying", attempt, error)
            failed_users.add(user)
            return
        if retryable:
            error = f"gave up after {attempts} attempts: {error}"
        shown = msgspec.json.encode([redact(r, self.secrets) for r in requests])
        outcome.dead.append(
            DeadLetter(seq, user, attempts, error, shown, attempt.status, attempt.body)
        )
        self.capture.settled(self, item, "dead-lettered", attempt, error)
        log.warning(
            "dead-lettered",
            extra={"destination": self.name, "seq": seq, "status": attempt.status, "reason": error},
        )

    def _describe(self, attempt: Attempt) -> str:
        if attempt.status is None:
            return attempt.error
        explain = self.delivery.explain
        if explain is not None:
            return f"HTTP {attempt.status}: {explain(attempt.status, attempt.body)}"
        snippet = attempt.body[:300].decode("utf-8", "replace").strip()
        return f"HTTP {attempt.status}: {snippet}" if snippet else f"HTTP {attempt.status}"

    def _backoff(self, attempts: int, retry_after_s: float | None) -> float:
        """Exponential backoff with equal jitter, never sooner than the server asked."""
        ceiling = min(self.policy.backoff_max_s, self.policy.backoff_base_s * 2.0 ** (attempts - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        return max(delay, retry_after_s or 0.0)

    def _count(self, outcome: Round) -> None:
        name = self.name
        if outcome.delivered:
            metrics.DELIVERED.labels(name).inc(len(outcome.delivered))
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

    def _trip_breaker(self, outcome: Round, now: float) -> None:
        if outcome.retry and not outcome.delivered:
            self.failed_rounds += 1
            pause = self.policy.backoff_base_s * 2.0 ** min(self.failed_rounds - 1, 16)
            self.breaker_until = now + min(self.policy.backoff_max_s, pause)
            log.warning(
                "destination failing; pausing new deliveries",
                extra={
                    "destination": self.name,
                    "seconds": round(self.breaker_until - now, 1),
                    "reason": outcome.retry[-1].error,
                },
            )
        elif outcome.delivered:
            self._close_breaker()

    def _close_breaker(self) -> None:
        self.failed_rounds = 0
        self.breaker_until = 0.0
