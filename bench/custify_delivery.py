"""Delivery to Custify under its real rate limit: how close csroute gets to the ceiling.

    .venv/bin/python bench/custify_delivery.py [--events 75000] [--users 6000] [--run-length 1]
        [--warmup 10] [--seconds 60] [--latency-ms 0] [--variant NAME ...] [--out NAME]

The Custify sandbox runs as its own process with Custify's default limit (100 requests per 10 s
per API key). The SQLite log is pre-filled with a backlog: each user's first event is an
identify, the rest are tracks. Users take turns: ``--run-length 1`` interleaves them one event
at a time, as live traffic from many users does; ``--run-length 5`` gives each user runs of 5
consecutive events, as a session flushed by a server-side SDK does. ``csroute serve --role
router`` then delivers the backlog through ``POST /batch`` (100 jobs). The ceiling is limit x
batch size = 1,000 events/s. Measured from the sandbox's own state:

- delivered events/s over ``--seconds`` after ``--warmup`` (people created + events stored:
  each user is identified once, and event deduplication ids are unique);
- the share of API requests answered 429;
- after the window, the run drains (for at most ``--drain-s``): every event must reach the
  sandbox, and csroute's own status must show nothing dead, rejected or pending.

Variants differ only in the router's delivery policy (``delivery:`` in the config).
``--latency-ms`` adds that delay to every sandbox answer (its ``latency_ms`` fault), as a
remote API would. Prints a table and writes JSON to bench/results/<--out>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import yaml

from common import custify_sandbox, free_port, machine
from csroute.events.model import NewEvent
from csroute.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
API_KEY = "bench-custify-key"
LIMIT, WINDOW_S, BATCH = 100, 10.0, 100
CEILING = LIMIT / WINDOW_S * BATCH
TS = "2026-11-22T10:00:00.000Z"

VARIANTS: dict[str, dict[str, Any]] = {
    # csroute's defaults: 8 lanes, pages of 1,000 events.
    "default": {},
    # One lane: a round's 1,000 events fill 10 batches, but rounds are short.
    "one-lane": {"concurrency": 1},
    # Rounds of 10,000 events: each of the 8 lanes fills a dozen batches per round.
    "big-pages": {"page_size": 10_000},
    # The same with 2 lanes: fewer part-filled batches, still two requests in flight.
    "tuned": {"concurrency": 2, "page_size": 10_000},
}


@dataclass(frozen=True)
class Workload:
    events: int
    users: int
    run_length: int
    warmup: float
    seconds: float
    latency_ms: int
    drain_s: float


def payload(i: int, load: Workload) -> tuple[str, str, bytes]:
    turn = i // load.run_length
    user = f"user-{turn % load.users}"
    if turn < load.users and i % load.run_length == 0:
        body: dict[str, Any] = {
            "type": "identify",
            "userId": user,
            "traits": {"email": f"{user}@example.com", "name": f"User {i}", "plan": "pro"},
        }
    else:
        body = {
            "type": "track",
            "userId": user,
            "event": "Feature Used",
            "properties": {"n": i, "feature": "reports", "seats": i % 50},
        }
    body |= {
        "messageId": f"m-{i}",
        "timestamp": TS,
        "receivedAt": TS,
        "context": {"library": {"name": "bench", "version": "1"}},
    }
    return user, body["type"], msgspec.json.encode(body)


async def prefill(path: Path, load: Workload) -> None:
    store = await SQLiteStore.open(path, synchronous="normal")
    for start in range(0, load.events, 5000):
        chunk = [payload(i, load) for i in range(start, min(load.events, start + 5000))]
        await store.append([NewEvent("bench", u, t, p) for u, t, p in chunk])
    await store.close()


def csroute_config(workdir: Path, sandbox: str, policy: dict[str, Any]) -> Path:
    config = {
        "data_dir": str(workdir),
        "server": {"host": "127.0.0.1", "port": free_port()},
        "store": {"synchronous": "normal"},
        "sources": [{"name": "bench", "write_key": "bench-write-key"}],
        "destinations": [
            {
                "name": "custify",
                "type": "custify",
                "settings": {"api_key": API_KEY, "base_url": sandbox, "batch_size": BATCH},
            }
        ],
        "connections": [{"source": "bench", "destinations": ["custify"]}],
        "delivery": policy,
    }
    path = workdir / "csroute.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def sandbox_summary(sandbox: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{sandbox}/__sandbox/state?summary=true").json()
    return state


def landed(state: dict[str, Any]) -> int:
    """Events the sandbox holds: one person per identified user, one record per track."""
    return int(state["counts"]["people"]) + int(state["counts"]["events"])


def status(config: Path) -> dict[str, Any]:
    out = subprocess.run(
        [PYTHON, "-m", "csroute", "status", "--json", "--config", str(config)],
        capture_output=True,
        check=True,
    ).stdout
    report: dict[str, Any] = json.loads(out)["custify"]
    return report


def run(variant: str, load: Workload) -> dict[str, Any]:
    policy = VARIANTS[variant]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        asyncio.run(prefill(workdir / "events.db", load))
        with custify_sandbox(API_KEY, f"{LIMIT}/{WINDOW_S:g}") as sandbox:
            config = csroute_config(workdir, sandbox, policy)
            if load.latency_ms:
                httpx.post(f"{sandbox}/__sandbox/faults", json={"latency_ms": load.latency_ms})
            csroute = subprocess.Popen(
                [PYTHON, "-m", "csroute", "serve", "--config", str(config), "--role", "router"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                started = time.monotonic()
                time.sleep(load.warmup)
                first, t0 = sandbox_summary(sandbox), time.monotonic()
                time.sleep(load.seconds)
                last, t1 = sandbox_summary(sandbox), time.monotonic()
                rate = (landed(last) - landed(first)) / (t1 - t0)
                requests = last["requests"]["total"] - first["requests"]["total"]
                throttled = last["requests"].get("429", 0) - first["requests"].get("429", 0)
                deadline = time.monotonic() + load.drain_s
                while (final := sandbox_summary(sandbox)) and landed(final) < load.events:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(1)
                drained_s = time.monotonic() - started
                csroute.terminate()
                csroute.wait(30)
                report = status(config)
            finally:
                if csroute.poll() is None:
                    csroute.kill()
    total_requests = final["requests"]["total"]
    return {
        "variant": variant,
        "policy": policy,
        **asdict(load),
        "window_s": round(t1 - t0, 1),
        "events_per_s": round(rate),
        "fraction_of_ceiling": round(rate / CEILING, 3),
        "events_per_request": round((landed(last) - landed(first)) / max(requests, 1), 1),
        "requests_in_window": requests,
        "throttled_in_window": throttled,
        "percent_429_in_window": round(100 * throttled / max(requests, 1), 2),
        "requests_total": total_requests,
        "throttled_total": final["requests"].get("429", 0),
        "percent_429_total": round(100 * final["requests"].get("429", 0) / total_requests, 2),
        "landed": landed(final),
        "not_landed": load.events - landed(final),
        "ran_s": round(drained_s, 1),
        "csroute_status": {k: report[k] for k in ("delivered", "unverified", "sent", "backlog",
                                                   "retrying", "held", "dead", "rejected")},
    }  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    head = ("variant", "events/s", "of ceiling", "events/req", "429 %", "not landed", "dead")
    lines = ["  ".join(f"{h:>11}" for h in head)]
    for r in rows:
        cells = (
            r["variant"],
            r["events_per_s"],
            f"{100 * r['fraction_of_ceiling']:.1f}%",
            r["events_per_request"],
            r["percent_429_total"],
            r["not_landed"],
            r["csroute_status"]["dead"],
        )
        lines.append("  ".join(f"{c!s:>11}" for c in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=75_000)
    parser.add_argument("--users", type=int, default=6_000)
    parser.add_argument("--run-length", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--drain-s", type=float, default=180)
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--out", default="custify_delivery")
    args = parser.parse_args()
    load = Workload(
        args.events, args.users, args.run_length, args.warmup, args.seconds,
        args.latency_ms, args.drain_s,
    )  # fmt: skip
    rows = [run(v, load) for v in args.variant or list(VARIANTS)]
    results = {"machine": machine(), "ceiling_events_per_s": CEILING, "runs": rows}
    print(table(rows))
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{args.out}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
