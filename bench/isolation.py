"""Failure isolation in delivery: one slow user, and a receiver failing 40 % of requests.

    .venv/bin/python bench/isolation.py [--seconds 20] [--rate 400] [--events 13000]

The router runs in this process (so that the backoffs it chooses can be recorded) against
``bench/fault_receiver.py`` in a process of its own, on a SQLite store; a webhook, one request
per event, 200 users, concurrency 16.

1. Latency: events are appended at ``--rate`` per second for ``--seconds``, each stamped with
   the time it was appended; latency is when the receiver accepted it minus that. Run once
   without faults and once with user ``u0`` answered after 5 s (under the 10 s timeout); the
   figures are the *other* users' p50 and p99.
2. Drain under faults: ``--events`` events pre-filled, then delivered to a receiver failing
   40 % of requests (500 : 429 : drop : timeout = 3 : 2 : 2 : 1, Retry-After 1 s, the timeout
   answering after the client's 2 s) and answering 10 % of the rest after 0.5 s. The drain time
   is compared with the least time the retry policy itself imposes, from what was recorded:
   for each user, the time their requests took at the receiver (capped at the client's
   timeout) plus the backoffs the router chose for them, one after another; the least drain
   time is the largest of those, or the receiver time of all requests spread over the
   concurrency, whichever is larger.

Prints a table and writes JSON to bench/results/isolation.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import yaml

from common import free_port, machine, wait_http
from csroute import config as config_module
from csroute.events.model import NewEvent
from csroute.router.ratelimit import Limiters
from csroute.router.router import Router
from csroute.router.worker import DestinationWorker
from csroute.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
USERS = 200
CONCURRENCY = 16
MIX = {"500": 0.15, "429": 0.10, "drop": 0.10, "timeout": 0.05}


@asynccontextmanager
async def receiver(faults: dict[str, Any]) -> AsyncIterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fault_receiver.py"), str(port), json.dumps(faults)],
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/count")
        yield url
    finally:
        proc.terminate()
        proc.wait()


HTTP = httpx.AsyncClient(timeout=60)  # one, since making a client costs 30 ms of this loop


async def received(url: str, what: str = "count") -> Any:
    return (await HTTP.get(f"{url}/{what}")).json()


def router_config(url: str, timeout_s: float) -> config_module.Config:
    doc = {
        "sources": [{"name": "bench", "write_key": "bench-write-key"}],
        "destinations": [
            {"name": "hook", "type": "webhook", "settings": {"url": url, "timeout_s": timeout_s}}
        ],
        "connections": [{"source": "bench", "destinations": ["hook"]}],
        "delivery": {"concurrency": CONCURRENCY, "page_size": 2000, "max_attempts": 1000},
    }
    return config_module.parse(yaml.safe_dump(doc), env={})


def new_event(n: int) -> NewEvent:
    user = f"u{n % USERS}"
    payload = {
        "type": "track",
        "event": "Tick",
        "userId": user,
        "messageId": f"m-{n}",
        "properties": {"n": n},
    }
    return NewEvent("bench", user, "track", msgspec.json.encode(payload))


async def wait_for(url: str, what: str, n: int, timeout: float) -> None:
    """Until the receiver has accepted ``n`` events (``what``: the ``/count`` query)."""
    deadline = time.monotonic() + timeout
    while await received(url, what) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        await asyncio.sleep(0.2)


async def latency(slow: bool, seconds: float, rate: int) -> dict[str, Any]:
    faults = {"slow_users": {"u0": 5.0}} if slow else {}
    async with receiver(faults) as url:
        with tempfile.TemporaryDirectory() as tmp:
            store = await SQLiteStore.open(Path(tmp) / "events.db", synchronous="normal")
            router = Router(router_config(url, 10.0), store, Limiters())
            router.start()
            appended_at: dict[str, float] = {}
            n, tick = 0, 0.05
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                events = [new_event(n + i) for i in range(int(rate * tick))]
                await store.append(events)
                acked = time.time()
                appended_at.update((f"m-{n + i}", acked) for i in range(len(events)))
                router.wake()
                n += len(events)
                await asyncio.sleep(tick)
            others = sum(1 for i in range(n) if i % USERS != 0)
            await wait_for(url, "count?except=u0", others, 120)
            await router.stop()
            await store.close()
        log = await received(url, "log")
    waits = [
        answered - appended_at[ids[0]]
        for user, ids, _arrived, answered, fault in log
        if not fault and user != "u0"
    ]
    cuts = statistics.quantiles(waits, n=100)
    return {
        "slow_user": slow,
        "events": n,
        "others_delivered": len(waits),
        "p50_s": round(cuts[49], 3),
        "p99_s": round(cuts[98], 3),
    }


async def drain(events: int) -> dict[str, Any]:
    timeout_s, faults = (
        2.0,
        {
            "mix": MIX,
            "retry_after": "1",
            "timeout_s": 3.0,
            "slow_rate": 0.10,
            "slow_s": 0.5,
            "seed": 7,
        },
    )
    backoffs: dict[str, float] = defaultdict(float)
    settle = DestinationWorker._settle

    def recorded(self: DestinationWorker, item: Any, attempt: Any, requests: Any) -> None:
        retries = len(self.outcome.retry)
        settle(self, item, attempt, requests)
        if len(self.outcome.retry) > retries:
            retry = self.outcome.retry[-1]
            backoffs[retry.user_key] += retry.next_at - time.time()

    DestinationWorker._settle = recorded  # type: ignore[method-assign]
    try:
        async with receiver(faults) as url:
            with tempfile.TemporaryDirectory() as tmp:
                store = await SQLiteStore.open(Path(tmp) / "events.db", synchronous="normal")
                for start in range(0, events, 5000):
                    chunk = range(start, min(events, start + 5000))
                    await store.append([new_event(n) for n in chunk])
                router = Router(router_config(url, timeout_s), store, Limiters())
                began = time.monotonic()
                router.start()
                await wait_for(url, "count", events, 3600)
                elapsed = time.monotonic() - began
                await router.stop()
                await store.close()
            log = await received(url, "log")
    finally:
        DestinationWorker._settle = settle  # type: ignore[method-assign]
    service: dict[str, float] = defaultdict(float)
    faults_seen: dict[str, int] = defaultdict(int)
    for user, _ids, arrived, answered, fault in log:
        service[user] += min(answered - arrived, timeout_s)
        faults_seen[fault or "200"] += 1
    per_user = {u: service[u] + backoffs[u] for u in service}
    slowest = max(per_user, key=per_user.__getitem__)
    least = max(per_user[slowest], sum(service.values()) / CONCURRENCY)
    return {
        "events": events,
        "requests": len(log),
        "answers": dict(faults_seen),
        "drain_s": round(elapsed, 1),
        "least_per_user_s": round(per_user[slowest], 1),
        "least_by_lanes_s": round(sum(service.values()) / CONCURRENCY, 1),
        "ratio": round(elapsed / least, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=400)
    parser.add_argument("--events", type=int, default=13_000)
    args = parser.parse_args()
    calm = await latency(False, args.seconds, args.rate)
    slow = await latency(True, args.seconds, args.rate)
    results: dict[str, Any] = {
        "machine": machine(),
        "latency": [calm, slow],
        "latency_ratio": {
            "p50": round(slow["p50_s"] / calm["p50_s"], 2),
            "p99": round(slow["p99_s"] / calm["p99_s"], 2),
        },
        "drain": await drain(args.events),
    }
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "isolation.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
