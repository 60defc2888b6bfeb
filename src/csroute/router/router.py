"""The router: one independent delivery worker per enabled destination.

Each destination has its own worker, HTTP connection pool and rate limiter, so a slow or failing
destination never slows another. Ingestion never waits on the router: the gateway appends to
the store, and ``wake`` merely tells idle workers there is something new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from csroute.config import Config, DestinationConfig
from csroute.destinations.registry import DESTINATION_TYPES, parse_settings
from csroute.router import metrics
from csroute.router.filters import EventFilter
from csroute.router.ratelimit import LIMITERS, Limiters
from csroute.router.worker import DestinationWorker
from csroute.store.base import Store

log = logging.getLogger("csroute.router")


class Router:
    def __init__(self, config: Config, store: Store, limiters: Limiters = LIMITERS) -> None:
        self.config = config
        self.store = store
        self.limiters = limiters
        self.workers: dict[str, DestinationWorker] = {}
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        for destination in config.destinations:
            if destination.enabled:
                self.workers[destination.name] = self._worker(destination)

    def _worker(self, destination: DestinationConfig) -> DestinationWorker:
        dtype = DESTINATION_TYPES[destination.type]
        settings, problems = parse_settings(destination.type, destination.settings)
        if problems:  # config.check already refused these; this guards direct construction
            raise ValueError(f"destination {destination.name!r}: {'; '.join(problems)}")
        return DestinationWorker(
            name=destination.name,
            dtype=dtype,
            settings=settings,
            policy=self.config.policy_for(destination),
            sources=self.config.sources_of(destination.name),
            event_filter=EventFilter(destination),
            store=self.store,
            limiters=self.limiters,
        )

    def start(self) -> None:
        for worker in self.workers.values():
            self._tasks.append(asyncio.create_task(worker.run(self._stopping), name=worker.name))
        if self.config.store.prune_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._prune(), name="prune"))

    async def _prune(self) -> None:
        """Delete the events every configured destination (enabled or not) is done with.

        Disabled destinations count too: their cursor holds events back until they are
        re-enabled or removed from the configuration.
        """
        names = [d.name for d in self.config.destinations]
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.config.store.prune_interval_s)
            if self._stopping.is_set():
                return
            try:
                removed = await self.store.prune(names)
            except Exception:
                log.exception("pruning the event log failed")
            else:
                if removed:
                    log.info("pruned delivered events", extra={"events": removed})

    def wake(self) -> None:
        """New events were appended: idle workers look at once instead of at their next poll."""
        for worker in self.workers.values():
            worker.wake.set()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Finish the rounds in flight (they record their outcomes), then stop."""
        self._stopping.set()
        self.wake()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def status(self) -> dict[str, dict[str, Any]]:
        """Per destination: delivered, pending, retrying, dead, filtered, backlog."""
        report: dict[str, dict[str, Any]] = {}
        for name, worker in self.workers.items():
            stats = await self.store.stats(name, worker.sources)
            metrics.BACKLOG.labels(name).set(stats.backlog)
            metrics.PENDING.labels(name).set(stats.retrying + stats.held)
            report[name] = {
                "type": worker.dtype.name,
                "delivered": stats.delivered,
                "filtered": stats.filtered,
                "filtered_by_reason": dict(stats.filtered_by_reason),
                "rejected": stats.rejected,
                "dead": stats.dead,
                "retrying": stats.retrying,
                "held": stats.held,
                "backlog": stats.backlog,
                "paused": worker.breaker_until > 0,
            }
        return report
