"""The router: independent delivery workers for each enabled destination.

Each destination has its own workers, HTTP connection pools and rate limiter, so a slow or
failing destination never slows another. Ingestion never waits on the router: the gateway
appends to the store, and ``wake`` merely tells idle workers there is something new. Several
router processes share a destination by leasing partitions of its users (see ``share``); alone,
a router holds every partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from functools import partial
from typing import Any

from csroute.capture.live import Capture
from csroute.config import Config, DestinationConfig
from csroute.destinations.registry import DESTINATION_TYPES, parse_settings
from csroute.router import metrics
from csroute.router.filters import EventFilter
from csroute.router.lease import Lease
from csroute.router.ratelimit import LIMITERS, Limiters
from csroute.router.share import Share
from csroute.router.worker import DestinationWorker
from csroute.store.base import Partition, Store

log = logging.getLogger("csroute.router")


class Router:
    def __init__(
        self,
        config: Config,
        store: Store,
        limiters: Limiters = LIMITERS,
        capture: Capture | None = None,
    ) -> None:
        self.config = config
        self.capture = capture
        self.store = store
        self.limiters = limiters
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """Who this process is in the store's partition leases."""
        self.shares: dict[str, Share] = {}
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        for destination in config.destinations:
            if destination.enabled:
                self._settings(destination)  # fail now, not in a task, on invalid settings
                self.shares[destination.name] = Share(
                    destination.name,
                    store,
                    config.store.partition_count(),
                    self.owner,
                    config.store.lease_ttl_s,
                    partial(self._worker, destination),
                )

    @staticmethod
    def _settings(destination: DestinationConfig) -> Any:
        settings, problems = parse_settings(destination.type, destination.settings)
        if problems:  # config.check already refused these; this guards direct construction
            raise ValueError(f"destination {destination.name!r}: {'; '.join(problems)}")
        return settings

    def _worker(
        self, destination: DestinationConfig, partition: Partition, lease: Lease
    ) -> DestinationWorker:
        dtype = DESTINATION_TYPES[destination.type]
        settings = self._settings(destination)
        return DestinationWorker(
            name=destination.name,
            dtype=dtype,
            settings=settings,
            policy=self.config.policy_for(destination),
            sources=self.config.sources_of(destination.name),
            event_filter=EventFilter(destination),
            store=self.store,
            limiters=self.limiters,
            partition=partition,
            lease=lease,
            capture=self.capture,
        )

    def start(self) -> None:
        for share in self.shares.values():
            self._tasks.append(asyncio.create_task(share.run(self._stopping), name=share.name))
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
                retention = self.config.store.retention_s
                before = time.time() - retention if retention > 0 else None
                removed = await self.store.prune(names, before)
            except Exception:
                log.exception("pruning the event log failed")
            else:
                if removed:
                    log.info("pruned delivered events", extra={"events": removed})

    def wake(self) -> None:
        """New events were appended: idle workers look at once instead of at their next poll."""
        for share in self.shares.values():
            share.wake()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Finish the deliveries in flight (their outcomes are recorded), then stop."""
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
        """Per destination: delivered (of which unverified), sent, retrying, held, dead,
        filtered, rejected, backlog."""
        report: dict[str, dict[str, Any]] = {}
        types = {d.name: d.type for d in self.config.destinations}
        for name, share in self.shares.items():
            stats = await self.store.stats(name, self.config.sources_of(name))
            metrics.BACKLOG.labels(name).set(stats.backlog)
            metrics.PENDING.labels(name).set(stats.retrying + stats.held)
            metrics.SENT.labels(name).set(stats.sent)
            report[name] = {
                "type": DESTINATION_TYPES[types[name]].name,
                "delivered": stats.delivered,
                "unverified": stats.unverified,
                "sent": stats.sent,
                "filtered": stats.filtered,
                "filtered_by_reason": dict(stats.filtered_by_reason),
                "rejected_by_reason": dict(stats.rejected_by_reason),
                "retrying_by_error": dict(stats.retrying_by_error),
                "dead_by_error": dict(stats.dead_by_error),
                "rejected": stats.rejected,
                "dead": stats.dead,
                "retrying": stats.retrying,
                "held": stats.held,
                "backlog": stats.backlog,
                "paused": any(w.breaker_until > 0 for w in share.workers),
            }
        return report
