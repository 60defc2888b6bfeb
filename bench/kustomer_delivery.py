"""Delivery to Kustomer under a plan's per-minute limit: how close csroute gets, and 429s.

    .venv/bin/python bench/kustomer_delivery.py [--plans 300,2000] [--warmup 15] [--window 150]
        [--round-seconds S]

For each plan (its requests per minute, R) a Kustomer sandbox runs as its own process with that
limit (``csroute sandbox kustomer --rate-limit-per-minute R``: a fixed 60 s window opened by
its first request) and ``csroute serve --role router`` delivers a pre-filled backlog to it with
``rate_limit_per_minute: R``. The backlog is larger than the run can deliver: identify then
tracks and page calls over many users, interleaved as live traffic would be. Kustomer has no
batching, so every event is one ``POST /v1/tracking/identityEvent``. The plans run side by
side, each with its own sandbox, router and log.

Measured from the sandbox:

- requests/s landed on timelines over ``--window`` seconds after ``--warmup`` (timestamps
  stamped by the sandbox), against the limit R/60;
- the share of requests answered 429, over the whole run;
- the most requests that landed in any 60 s span (timeline timestamps, to the millisecond):
  under R means no window of any alignment could have been overrun.

Then the router is stopped (SIGTERM, as an operator stops it) and nothing may be lost: every
event is on a timeline or still waiting in csroute's log (read after the stop), nothing dead,
rejected or filtered. Also counted: events that landed twice, and events that landed but are
still waiting (the router stopped before recording them; they will be sent again).

``--round-seconds S`` caps the router's page (events per round) at S seconds of the plan's rate
(``delivery.page_size``); without it the router keeps csroute's default page. Prints a table
and writes JSON to bench/results/kustomer_delivery[_roundSs].json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import yaml

from common import machine
from csroute.events.model import NewEvent
from csroute.store.sqlite import SQLiteStore
from delivery import free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
CSROUTE = [sys.executable, "-m", "csroute"]
TS = "2026-11-22T10:00:00.000Z"
COLUMNS = ("delivered", "backlog", "retrying", "held", "dead", "filtered", "rejected")
TRACKS: list[tuple[str, dict[str, Any]]] = [
    ("Product Viewed", {"product_id": "sku-1", "name": "Mug", "price": 12.5, "currency": "EUR"}),
    ("Product Added", {"product_id": "sku-1", "quantity": 2, "price": 12.5}),
    ("Checkout Started", {"order_id": "o-1", "value": 25, "currency": "EUR"}),
    ("Order Completed", {"order_id": "o-1", "revenue": 25, "currency": "EUR", "coupon": "X"}),
]


def payload(i: int, users: int) -> tuple[str, str, bytes]:
    """Event ``i`` of the backlog: each user's first event is an identify, then tracks and page
    views. ``anonymousId`` carries ``i``; Kustomer's meta always includes it, so every landed
    event can be told apart."""
    user = f"user-{i % users}"
    body: dict[str, Any] = {
        "userId": user,
        "anonymousId": f"bench-{i}",
        "messageId": f"m-{i}",
        "timestamp": TS,
        "receivedAt": TS,
        "context": {"library": {"name": "bench", "version": "1"}},
    }
    if i < users:
        traits = {"email": f" {user.upper()}@Example.com ", "name": f"User {i}"}
        body.update(type="identify", traits=traits)
    elif i % 5 == 0:
        body.update(type="page", name="Pricing", properties={"path": "/pricing", "url": "/p"})
    else:
        name, properties = TRACKS[i % len(TRACKS)]
        body.update(type="track", event=name, properties=properties)
    return user, body["type"], msgspec.json.encode(body)


async def prefill(path: Path, n: int, users: int) -> None:
    store = await SQLiteStore.open(path, synchronous="normal")
    for start in range(0, n, 5000):
        batch = []
        for i in range(start, min(n, start + 5000)):
            user, kind, body = payload(i, users)
            batch.append(NewEvent("bench", user, kind, body))
        await store.append(batch)
    await store.close()


class Plan:
    """One plan's run: its sandbox, its router and its log, in a directory of their own."""

    def __init__(self, per_minute: int, workdir: Path, events: int, page_size: int | None) -> None:
        self.per_minute = per_minute
        self.workdir = workdir
        self.events = events
        self.users = max(100, events // 5)
        self.page_size = page_size
        self.sandbox = f"http://127.0.0.1:{free_port()}"
        self.config = workdir / "csroute.yaml"
        self.router: subprocess.Popen[bytes] | None = None
        self.processes: list[subprocess.Popen[bytes]] = []

    def start_sandbox(self) -> None:
        port = self.sandbox.rsplit(":", 1)[1]
        limit = str(self.per_minute)
        self._start(
            ["sandbox", "kustomer", "--port", port, "--rate-limit-per-minute", limit], "sandbox.log"
        )
        wait_http(f"{self.sandbox}/__sandbox/state")

    def start_router(self) -> None:
        asyncio.run(prefill(self.workdir / "events.db", self.events, self.users))
        port = free_port()
        config = {
            "data_dir": str(self.workdir),
            "server": {"host": "127.0.0.1", "port": port},
            "store": {"synchronous": "normal"},
            "sources": [{"name": "bench", "write_key": "bench-write-key"}],
            "destinations": [
                {
                    "name": "kustomer",
                    "type": "kustomer",
                    "settings": {
                        "org_name": "sandbox",
                        "api_key": "sandbox-key",
                        "base_url": self.sandbox,
                        "rate_limit_per_minute": self.per_minute,
                    },
                    "delivery": {"page_size": self.page_size} if self.page_size else {},
                }
            ],
            "connections": [{"source": "bench", "destinations": ["kustomer"]}],
        }
        self.config.write_text(yaml.safe_dump(config))
        command = ["serve", "--config", str(self.config), "--role", "router"]
        self.router = self._start(command, "csroute.log")
        wait_http(f"http://127.0.0.1:{port}/health")

    def _start(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.workdir / log).open("ab") as out:
            process = subprocess.Popen([*CSROUTE, *args], stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(30)

    def state(self) -> dict[str, Any]:
        document: dict[str, Any] = httpx.get(f"{self.sandbox}/__sandbox/state", timeout=30).json()
        return document

    def stop_router(self) -> None:
        """SIGTERM, as an operator stops it. Its exit code is reported: a negative one means
        the signal ended the process before the router recorded its rounds in flight."""
        assert self.router is not None
        self.router.terminate()
        self.router.wait(60)

    def status(self) -> dict[str, Any]:
        out = subprocess.run(
            [*CSROUTE, "status", "--json", "--config", str(self.config)],
            check=True,
            capture_output=True,
        ).stdout
        report: dict[str, Any] = json.loads(out)["kustomer"]
        return report


def answered(state: dict[str, Any]) -> tuple[int, int]:
    """(requests answered 201, requests answered 429)."""
    statuses = state["statuses"]
    return statuses.get("201", 0), statuses.get("429", 0)


def timeline(state: dict[str, Any]) -> list[tuple[float, int]]:
    """Every landed event as (epoch seconds it landed, its backlog index)."""
    entries = [e for c in state["customers"] for e in c["events"]]
    entries += [e for visitor in state["anonymous"] for e in visitor["events"]]
    landed = []
    for entry in entries:
        attributes = entry["attributes"]
        at = datetime.fromisoformat(attributes["createdAt"].replace("Z", "+00:00")).timestamp()
        landed.append((at, index(attributes["meta"]["anonymousId"])))
    return landed


def busiest_minute(times: list[float]) -> int:
    """The most requests landed in any 60 s span (two pointers over the sorted times); the
    sandbox's window counts exactly these, since requests answered 429 use no budget."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 60.0:
            first += 1
        most = max(most, last - first + 1)
    return most


async def unsettled(path: Path, n: int) -> set[int]:
    """Backlog indexes still waiting in the stopped router's log: new, retrying or held."""
    store = await SQLiteStore.open(path)
    try:
        page = await store.read_new("kustomer", ["bench"], n)
        pending = await store.due("kustomer", math.inf, n)
    finally:
        await store.close()
    events = [*page.events, *(p.event for p in pending)]
    return {index(msgspec.json.decode(e.payload)["anonymousId"]) for e in events}


def index(anonymous_id: str) -> int:
    return int(anonymous_id.removeprefix("bench-"))


def result(
    plan: Plan,
    start: float,
    window: float,
    final: dict[str, Any],
    status: dict[str, Any],
    waiting: set[int],
) -> dict[str, Any]:
    limit_per_s = plan.per_minute / 60
    ok_total, throttled = answered(final)
    landed = timeline(final)
    indexes = {i for _, i in landed}
    per_s = sum(start <= at < start + window for at, _ in landed) / window
    assert plan.router is not None
    return {
        "per_minute": plan.per_minute,
        "events": plan.events,
        "users": plan.users,
        "page_size": plan.page_size,
        "window_s": window,
        "delivered_per_s": round(per_s, 3),
        "limit_per_s": round(limit_per_s, 3),
        "share_of_limit": round(per_s / limit_per_s, 4),
        "requests": ok_total + throttled,
        "answered_429": throttled,
        "share_429": round(throttled / max(1, ok_total + throttled), 5),
        "busiest_60s": busiest_minute([at for at, _ in landed]),
        "other_statuses": {s: n for s, n in final["statuses"].items() if s not in ("201", "429")},
        "landed": len(landed),
        "landed_twice": len(landed) - len(indexes),
        "csroute": {k: status[k] for k in COLUMNS},
        "router_exit_code": plan.router.returncode,
        # Landed, but the router stopped before recording it: it will be sent again.
        "landed_still_waiting": len(indexes & waiting),
        "lost": len(set(range(plan.events)) - indexes - waiting),
        "nothing_lost": (
            indexes | waiting == set(range(plan.events))
            and status["dead"] == status["rejected"] == status["filtered"] == 0
        ),
    }


def run(plans: list[int], warmup: float, window: float, round_s: float | None) -> list[Any]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        runs = []
        for per_minute in plans:
            workdir = Path(tmp) / str(per_minute)
            workdir.mkdir()
            # A third more than the run can deliver, so the router never runs dry.
            events = math.ceil(per_minute / 60 * (warmup + window + 30) * 4 / 3)
            size = math.ceil(per_minute / 60 * round_s) if round_s else None
            runs.append(Plan(per_minute, workdir, events, size))
            stack.callback(runs[-1].close)
        for plan in runs:
            plan.start_sandbox()
        for plan in runs:
            plan.start_router()
        time.sleep(warmup)
        start = time.time()  # the sandbox stamps what lands with this clock
        time.sleep(window + 1)
        results = []
        for plan in runs:
            plan.stop_router()
            waiting = asyncio.run(unsettled(plan.workdir / "events.db", plan.events))
            final, status = plan.state(), plan.status()
            results.append(result(plan, start, window, final, status, waiting))
        return results


def table(rows: list[dict[str, Any]]) -> str:
    columns = [
        ("plan/min", "per_minute", "{}"),
        ("limit/s", "limit_per_s", "{:.2f}"),
        ("sent/s", "delivered_per_s", "{:.2f}"),
        ("of limit", "share_of_limit", "{:.1%}"),
        ("requests", "requests", "{}"),
        ("429s", "answered_429", "{}"),
        ("429 share", "share_429", "{:.2%}"),
        ("max in 60s", "busiest_60s", "{}"),
        ("lost", "lost", "{}"),
        ("twice", "landed_twice", "{}"),
        ("to resend", "landed_still_waiting", "{}"),
    ]
    lines = [" ".join(f"{title:>10}" for title, _, _ in columns)]
    for row in rows:
        lines.append(" ".join(f"{form.format(row[key]):>10}" for _, key, form in columns))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plans", default="300,2000", help="requests per minute, comma-separated")
    parser.add_argument("--warmup", type=float, default=15)
    parser.add_argument("--window", type=float, default=150)
    parser.add_argument("--round-seconds", type=float, default=None)
    args = parser.parse_args()
    plans = [int(p) for p in args.plans.split(",")]
    rows = run(plans, args.warmup, args.window, args.round_seconds)
    results = {
        "machine": machine(),
        "load_average": os.getloadavg(),
        "round_seconds": args.round_seconds,
        "plans": rows,
    }
    print(table(rows))
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = (
        f"kustomer_delivery_round{args.round_seconds:g}s"
        if args.round_seconds
        else "kustomer_delivery"
    )
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
