"""The shared, adaptive rate limiter: its state, not the clock (no timing assertions)."""

from __future__ import annotations

import time

import pytest

from csroute.destinations.base import RateLimit
from csroute.router.ratelimit import SAFETY, Limiter, Limiters

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)


def test_one_limiter_per_key_is_shared() -> None:
    limiters = Limiters()
    a = limiters.get(RateLimit(100, 10, "custify:abc"))
    b = limiters.get(RateLimit(100, 10, "custify:abc"))
    c = limiters.get(RateLimit(100, 10, "custify:other"))
    assert a is b and a is not c


async def test_requests_are_spaced_evenly_at_just_under_the_limit() -> None:
    limiter = Limiter(RateLimit(100, 10, "k"))
    assert limiter.rate == pytest.approx(SAFETY * 10)
    await limiter.acquire()
    first = limiter.next_slot
    await limiter.acquire()
    # Each caller reserves the next slot, one interval after the previous one: no bursts.
    assert limiter.next_slot - first == pytest.approx(1 / limiter.rate)


def test_a_429_pauses_the_key_and_halves_the_rate() -> None:
    limiter = Limiter(RateLimit(100, 10, "k"))
    before = time.monotonic()
    limiter.throttled_by_server(retry_after_s=4.0)
    assert limiter.paused_until >= before + 4.0
    assert limiter.next_slot >= limiter.paused_until
    assert limiter.rate == pytest.approx(limiter.ceiling / 2)
    assert limiter.throttled == 1
    limiter.throttled_by_server(retry_after_s=None)  # no Retry-After: wait a whole window
    assert limiter.paused_until >= before + 10.0
    for _ in range(10):
        limiter.throttled_by_server(0)
    assert limiter.rate == pytest.approx(limiter.ceiling / 16)  # never stops entirely


async def test_the_rate_climbs_back_after_a_clean_window() -> None:
    limiter = Limiter(RateLimit(100, 10, "k"))
    limiter.throttled_by_server(0)
    limiter.throttled_by_server(0)
    assert limiter.rate == pytest.approx(limiter.ceiling / 4)
    limiter.paused_until = limiter.next_slot = 0.0
    limiter.last_throttle -= 10  # a whole window without a 429
    await limiter.acquire()
    assert limiter.rate == pytest.approx(limiter.ceiling / 4 * 1.5)
    for _ in range(5):
        limiter.last_throttle -= 10
        limiter.next_slot = 0.0
        await limiter.acquire()
    assert limiter.rate == pytest.approx(limiter.ceiling)  # capped at the configured rate
