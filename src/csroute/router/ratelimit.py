"""Request pacing per API key, shared by every destination and client that uses the key.

Requests are spaced evenly (a token bucket with a burst of one) rather than sent in bursts:
APIs such as Custify count a fixed window from its first request, and a burst at a window's
edge is what earns 429s. On a 429 the limiter pauses everyone using the key until
``Retry-After`` and halves its rate; after a clean window it climbs back towards the
configured rate.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from csroute.destinations.base import RateLimit

SAFETY = 0.98
"""Fraction of the advertised limit we aim for, so clock jitter never crosses the line."""


@dataclass(slots=True)
class Limiter:
    limit: RateLimit
    rate: float = 0.0  # requests per second currently allowed
    next_slot: float = 0.0  # monotonic time of the next free slot
    paused_until: float = 0.0
    last_throttle: float = field(default_factory=time.monotonic)
    throttled: int = 0  # 429s seen, for metrics

    def __post_init__(self) -> None:
        self.rate = self.ceiling

    @property
    def ceiling(self) -> float:
        return SAFETY * self.limit.requests / self.limit.per_seconds

    async def acquire(self) -> None:
        """Wait for this caller's slot. Callers are served in the order they ask."""
        now = time.monotonic()
        self._recover(now)
        slot = max(now, self.next_slot, self.paused_until)
        self.next_slot = slot + 1.0 / self.rate
        if slot > now:
            await asyncio.sleep(slot - now)

    def throttled_by_server(self, retry_after_s: float | None) -> None:
        """The API answered 429: back off for everyone using this key."""
        now = time.monotonic()
        self.throttled += 1
        self.last_throttle = now
        self.rate = max(self.ceiling / 16, self.rate / 2)
        pause = retry_after_s if retry_after_s is not None else self.limit.per_seconds
        self.paused_until = max(self.paused_until, now + pause)
        self.next_slot = max(self.next_slot, self.paused_until)

    def _recover(self, now: float) -> None:
        window = max(self.limit.per_seconds, 1.0)
        if self.rate < self.ceiling and now - self.last_throttle >= window:
            self.rate = min(self.ceiling, self.rate * 1.5)
            self.last_throttle = now


class Limiters:
    """One limiter per key. A process shares one ``Limiters`` across the router and clients."""

    def __init__(self) -> None:
        self._by_key: dict[str, Limiter] = {}

    def get(self, limit: RateLimit) -> Limiter:
        limiter = self._by_key.get(limit.key)
        if limiter is None:
            limiter = self._by_key[limit.key] = Limiter(limit)
        return limiter

    def all(self) -> dict[str, Limiter]:
        return dict(self._by_key)


LIMITERS = Limiters()
"""The process-wide registry, so every user of one API key shares one budget."""
