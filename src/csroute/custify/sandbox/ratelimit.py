"""Custify's rate limit: a fixed window of N requests per W seconds per API key (docs/custify-api.md
2).

The window opens with a key's first request and ``Retry-After`` counts from that moment, as the
spec words it. Requests answered 429 do not use up the window, so a client that waits as told gets
through at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int


class FixedWindowLimiter:
    def __init__(self, limit: int, window_s: float, clock: Callable[[], float]) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("the rate limit needs at least 1 request per positive window")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[str, list[float]] = {}  # key -> [window start, requests counted]

    def check(self, key: str) -> Verdict:
        """Count one request for ``key`` if the window has room."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window[0] + self.window_s:
            window = self._windows[key] = [now, 0]
        retry_after = max(1, math.ceil(window[0] + self.window_s - now))
        if window[1] >= self.limit:
            return Verdict(False, self.limit, 0, retry_after)
        window[1] += 1
        return Verdict(True, self.limit, self.limit - int(window[1]), retry_after)

    def seconds_to_reset(self, key: str) -> int:
        """Whole seconds until ``key``'s window resets (a full window when it has none open)."""
        window = self._windows.get(key)
        now = self._clock()
        if window is None or now >= window[0] + self.window_s:
            return max(1, math.ceil(self.window_s))
        return max(1, math.ceil(window[0] + self.window_s - now))

    def reset(self) -> None:
        self._windows.clear()
