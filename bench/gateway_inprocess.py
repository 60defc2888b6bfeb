"""The gateway's own cost per request, in process: no network, no server, a no-op store.

    .venv/bin/python bench/gateway_inprocess.py [--requests 20000] [--profile]

Compare with ``bench/gateway.py``, which measures the same handler under uvicorn and wrk. The
difference between the two is what the server interaction costs (docs/benchmarks.md, Gateway).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import pstats
import time
from collections.abc import Sequence
from typing import Any

from csroute.config import SourceConfig
from csroute.events.limits import Limits
from csroute.events.model import NewEvent
from csroute.gateway.app import GatewayApp
from csroute.gateway.metrics import PrometheusGatewayMetrics

BODY = (
    b'{"userId":"u1","event":"Clicked","messageId":"3f1c2d4e-0b7a-4c55-9e61-000000000001",'
    b'"properties":{"a":1,"b":"x"},"context":{"library":{"name":"bench"}},'
    b'"timestamp":"2026-11-22T10:00:00.000Z"}'
)
WRITE_KEY = "bench-write-key-1"


class NoStore:
    """Acknowledges at once: what is left is the gateway's own work."""

    async def append(self, events: Sequence[NewEvent]) -> None:
        return None


async def requests(app: GatewayApp, n: int) -> None:
    auth = b"Basic " + base64.b64encode(f"{WRITE_KEY}:".encode())
    scope = {
        "type": "http",
        "path": "/v1/track",
        "method": "POST",
        "headers": [
            (b"authorization", auth),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    for _ in range(n):
        await app(scope, receive, send)


async def main(n: int, profile: bool) -> None:
    sources = [SourceConfig(name="bench", write_key=WRITE_KEY)]
    app = GatewayApp(NoStore(), sources, Limits(), PrometheusGatewayMetrics())  # type: ignore[arg-type]
    await requests(app, n // 10)  # warm-up
    started = time.perf_counter()
    await requests(app, n)
    elapsed = time.perf_counter() - started
    print(f"{elapsed / n * 1e6:.1f} µs per single-event request (in process, no store)")
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await requests(app, n)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.profile))
