"""A partition's lease as its worker holds it: the fencing token its writes carry, and until
when it may send requests.

The store refuses every write of a worker whose lease was taken over (``Fenced``). But a
refused record comes after the requests it records: a worker that stalled past its lease (a
long pause of the process, a frozen VM, SIGSTOP) and runs again would first send what it had
read, and only then learn it lost the partition. So a worker also sends only while its lease is
surely its own: within ``SAFE_SHARE`` of the ttl since its last renewal began. Past that it
waits for the next renewal, which either confirms the lease (same token) or finds it taken over
and drops the partition. What a stall can still duplicate is the requests that were already
out when it began.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

SAFE_SHARE: Final = 0.8
"""The share of the lease ttl after a renewal during which the lease is surely still ours
(the rest is the margin for clocks and the renewal's own round trip)."""


class Lease:
    """The lease of one partition, renewed by its ``Share`` and checked by its worker."""

    def __init__(self, token: int, ttl_s: float, renewed_at: float) -> None:
        self.token = token
        self.ttl_s = ttl_s
        self.renewed_at = renewed_at  # monotonic time the last successful renewal began
        self._renewed = asyncio.Event()

    def renew(self, began: float) -> None:
        """The store confirmed the lease, with this token, in a renewal begun at ``began``."""
        self.renewed_at = began
        self._renewed.set()

    def valid(self) -> bool:
        return time.monotonic() < self.renewed_at + self.ttl_s * SAFE_SHARE

    async def held(self) -> None:
        """Return once the lease is surely ours (at once, unless renewals are late)."""
        while not self.valid():
            self._renewed.clear()
            await self._renewed.wait()
