"""Sharing one destination's work between worker processes, by leased partitions.

A destination's users fall in ``n`` partitions (``store.partitions``). Each worker process
leases a fair share of them from the store and runs one ``DestinationWorker`` per partition it
holds. A user always falls in the same partition and a partition has one holder at a time, so
per-user order holds across processes. Every ``BALANCE_S`` the share renews its leases, takes
free or expired ones (a dead worker's) up to its fair share, and hands back partitions beyond
it, once their rounds are finished, so that a worker that joins gets work within about a second
(balancing runs at least once a second, however long the ttl). A partition whose
lease was lost (renewals failed for most of a ``ttl``, or another worker took it over) is
dropped at once: another worker owns it by then. Each partition's worker gets the partition's
``Lease``: the fencing token its writes carry, renewed here (see ``lease``).

With one worker process (SQLite, or one PostgreSQL worker) the share holds every partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from csroute.router.lease import SAFE_SHARE, Lease
from csroute.router.worker import DestinationWorker
from csroute.store.base import Partition, Store

log = logging.getLogger("csroute.router")

BALANCE_S = 1.0
"""How often a share balances (more often when the lease ttl is under 3 s): the delay before a
worker that joins, or a partition handed back, gets to work. One small transaction each time."""


@dataclass(slots=True)
class _Running:
    worker: DestinationWorker
    lease: Lease
    stopping: asyncio.Event
    task: asyncio.Task[None]


class Share:
    """This process's part of one destination: the partitions it leases, each with a worker."""

    def __init__(
        self,
        name: str,
        store: Store,
        partitions: int,
        owner: str,
        ttl_s: float,
        make_worker: Callable[[Partition, Lease], DestinationWorker],
    ) -> None:
        self.name = name
        self.store = store
        self.partitions = partitions
        self.owner = owner
        self.ttl_s = ttl_s
        self.make_worker = make_worker
        self.running: dict[int, _Running] = {}
        self._renewed_at = time.time()

    @property
    def workers(self) -> list[DestinationWorker]:
        return [r.worker for r in self.running.values()]

    async def run(self, stopping: asyncio.Event) -> None:
        """Balance every ``BALANCE_S`` until ``stopping``; then finish the rounds in flight and
        hand every partition back, so that other workers take over without waiting."""
        try:
            while not stopping.is_set():
                try:
                    await self.balance()
                except Exception:
                    log.exception("balancing partitions failed", extra={"destination": self.name})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), min(BALANCE_S, self.ttl_s / 3))
        except asyncio.CancelledError:
            for running in self.running.values():
                running.task.cancel()
            raise
        last = dict(self.running)
        await self._stop(list(last))
        # A worker that found its lease taken over holds nothing to hand back.
        held = {k: r.lease.token for k, r in last.items() if not r.worker.fenced}
        if held:
            with contextlib.suppress(Exception):
                await self.store.release(self.name, self.partitions, self.owner, held)

    async def balance(self) -> None:
        """Renew, take over and hand back leases; start and stop workers to match."""
        now, began = time.time(), time.monotonic()
        try:
            leases = await self.store.lease(self.name, self.partitions, self.owner, now, self.ttl_s)
        except Exception:
            log.exception("renewing partition leases failed", extra={"destination": self.name})
            if now - self._renewed_at > self.ttl_s * SAFE_SHARE:
                # Others may take our partitions over any moment now: stop before they do.
                self._cancel(sorted(self.running))
            return
        self._renewed_at = now
        held, tokens = set(leases.held), leases.tokens
        for k in [k for k, r in self.running.items() if r.task.done()]:
            # A worker ends only when told to, unless it failed to start (store unreachable)
            # or found its lease taken over (it said so).
            failed = self.running.pop(k).task
            if not failed.cancelled() and failed.exception() is not None:
                log.error(
                    "partition worker failed; restarting it",
                    exc_info=failed.exception(),
                    extra={"destination": self.name, "partition": k},
                )
        # Drop partitions no longer held, and those whose token moved on: their lease changed
        # hands since their worker started (taken over, then back), so its memory is stale.
        self._cancel([k for k, r in self.running.items() if tokens.get(k) != r.lease.token])
        for running in self.running.values():
            running.lease.renew(began)
        excess = sorted(held)[math.ceil(self.partitions / leases.workers) :]
        if excess:
            await self._stop(excess)
            handed = {k: tokens[k] for k in excess}
            await self.store.release(self.name, self.partitions, self.owner, handed)
            held.difference_update(excess)
            log.info(
                "handed partitions over", extra={"destination": self.name, "partitions": excess}
            )
        for k in sorted(held - self.running.keys()):
            self._start(k, Lease(tokens[k], self.ttl_s, began))

    def wake(self) -> None:
        for running in self.running.values():
            running.worker.wake.set()

    def _start(self, k: int, lease: Lease) -> None:
        worker = self.make_worker((k, self.partitions), lease)
        stopping = asyncio.Event()
        task = asyncio.create_task(worker.run(stopping), name=f"{self.name}#{k}")
        self.running[k] = _Running(worker, lease, stopping, task)
        if self.partitions > 1:
            log.info("delivering partition", extra={"destination": self.name, "partition": k})

    async def _stop(self, ks: list[int]) -> None:
        """Let these partitions' rounds in flight finish and record, then stop their workers."""
        stopping = [self.running.pop(k) for k in ks if k in self.running]
        for running in stopping:
            running.stopping.set()
            running.worker.wake.set()
        try:
            await asyncio.gather(*(r.task for r in stopping), return_exceptions=True)
        except asyncio.CancelledError:
            for running in stopping:
                running.task.cancel()
            raise

    def _cancel(self, ks: list[int]) -> None:
        """Drop partitions at once (their leases are lost): an unrecorded round is redone by
        the new holder, at least once as always."""
        for k in ks:
            running = self.running.pop(k)
            running.task.cancel()
            if not running.worker.fenced:  # a fenced worker said so itself
                log.warning(
                    "lost partition lease", extra={"destination": self.name, "partition": k}
                )
