"""What the live capture costs per event, in process: the gateway's and the router's hooks
with nobody watching, with a viewer watching under a flood (the budget turns most events
away), and building one kept record.

    .venv/bin/python bench/capture.py [--calls 200000]

Prints microseconds per call, best of 5 rounds. The end-to-end figures (``bench/gateway.py
--capture``, ``bench/delivery.py --capture``) move by tens of percent with the shared machine's
load; these per-call costs, set against the per-event budget at full speed, are the stable
measure.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from csroute.capture.live import Capture, Filter
from csroute.config import CaptureConfig
from csroute.destinations.base import Request
from csroute.events.model import LoggedEvent, NewEvent
from csroute.router.redact import Secrets

EVENT = {
    "type": "track",
    "event": "Order Completed",
    "userId": "user-1",
    "messageId": "3f1c2d4e-0b7a-4c55-9e61-000000000001",
    "timestamp": "2026-11-22T10:00:00.123+00:00",
    "properties": {"order_id": "o-1", "total": 129.5, "currency": "EUR", "items": 3},
    "context": {"library": {"name": "analytics-python", "version": "2.4.0"}, "ip": "203.0.113.7"},
}


@dataclass
class Worker:
    name: str = "hook"
    secrets: Secrets = field(default_factory=lambda: Secrets(frozenset({"authorization"}), ()))


@dataclass
class Item:
    event: LoggedEvent
    attempts: int = 0
    requests: list[Request] = field(default_factory=list)


def per_call(fn: Any, calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - started) / calls * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls
    payload = msgspec.json.encode(EVENT)
    new = [NewEvent("web", "user-1", "track", payload)]
    worker = Worker()
    request = Request("POST", "http://127.0.0.1:9/hook", {"Authorization": "Bearer k"}, {}, EVENT)
    item = Item(LoggedEvent(1, "web", "user-1", "track", payload), 0, [request])

    def measure(capture: Capture, n: int) -> tuple[float, float]:
        def gateway() -> None:
            if capture.watching:
                capture.received("web", new)

        def router() -> None:
            capture.settled(worker, item, "delivered")

        return per_call(gateway, n), per_call(router, n)

    rows = [("nobody watching", *measure(Capture(), calls))]
    for label, config in (
        ("watching, flood (budget spent)", CaptureConfig(max_per_s=1e-9)),
        ("watching, every event kept", CaptureConfig(max_per_s=1e12, ring_size=200)),
    ):
        capture = Capture(config)
        with capture.watch(Filter()) as viewer:
            viewer.queue = type(viewer.queue)()  # unbounded: measure building, not dropping
            rows.append((label, *measure(capture, calls // 10)))
    print(f"{'':<34}{'gateway µs/event':>18}{'router µs/outcome':>19}")
    for label, g, r in rows:
        print(f"{label:<34}{g:>18.2f}{r:>19.2f}")


if __name__ == "__main__":
    main()
