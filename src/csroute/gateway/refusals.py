"""Refused requests, made visible: counted by reason, logged without flooding the log.

A broken integration (a wrong write key, an SDK posting to a path csroute does not serve, a
page on an origin that is not allowed) repeats the same refusal at the rate its users send
events. The operator needs to see it at once, so it is logged at warning level, but only
its first occurrence per reason in each ``interval``; the next line says how many were not
logged in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from csroute.events.errors import RequestError
from csroute.gateway.metrics import GatewayMetrics

log = logging.getLogger("csroute.gateway")

_PATH_SHOWN = 100  # characters of a refused path shown in the log (it is client-controlled)


class Refusals:
    def __init__(
        self,
        metrics: GatewayMetrics | None,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}  # reason -> when it was last logged
        self._unlogged: dict[str, int] = {}

    def refused(self, source: str, path: str, error: RequestError) -> None:
        """Count ``error`` as one refused request (``source`` ``""`` when unknown); log it
        unless its reason was logged less than ``interval`` ago."""
        r = error.rejection
        if self._metrics is not None:
            self._metrics.refused(r.rule)
        now = self._clock()
        last = self._last.get(r.rule)
        if last is not None and now - last < self._interval:
            self._unlogged[r.rule] = self._unlogged.get(r.rule, 0) + 1
            return
        self._last[r.rule] = now
        unlogged = self._unlogged.pop(r.rule, 0)
        log.warning(
            "request refused with %d %s: %s%s (path %r, source %s)%s",
            error.status,
            r.rule,
            r.message,
            f" [{r.field}]" if r.field else "",
            path[:_PATH_SHOWN],
            source or "unknown",
            f"; {unlogged} more refused for {r.rule} since the last line" if unlogged else "",
        )
