"""Delivery throughput to a local webhook, and memory with a large backlog.

    .venv/bin/python bench/delivery.py [--events 200000] [--backlog 1000000]
    .venv/bin/python bench/delivery.py --capture [--events 100000] [--rounds 3]

1. Throughput: pre-fills the log with N events of 1,000 users, starts ``csroute serve --role
   router`` delivering to a counting receiver (its own process), and times until the receiver
   has seen all N; for webhook batch sizes 1 and 100.
2. Memory: pre-fills a log with the backlog, starts ``csroute serve`` (gateway and router) and
   samples its RSS while it delivers for a while.

With ``--capture``, it measures instead what watching costs: throughput (batches of 100) with
the live capture off, then on with one unfiltered viewer reading ``/admin/stream`` from the
start, in alternating rounds; written to bench/results/delivery-capture.json.

Prints a table and writes JSON to bench/results/delivery.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import yaml

from common import Viewer, free_port, machine, rss_mb, wait_http
from csroute.events.model import NewEvent
from csroute.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


async def prefill(path: Path, n: int) -> None:
    store = await SQLiteStore.open(path, synchronous="normal")
    chunk = 5000
    for start in range(0, n, chunk):
        events = []
        for i in range(start, min(n, start + chunk)):
            user = f"user-{i % 1000}"
            payload = msgspec.json.encode(
                {
                    "type": "track",
                    "event": "Page Loaded",
                    "userId": user,
                    "messageId": f"m-{i}",
                    "receivedAt": "2026-11-22T10:00:00.000Z",
                    "timestamp": "2026-11-22T10:00:00.000Z",
                    "properties": {"n": i, "path": "/pricing", "plan": "pro"},
                    "context": {"library": {"name": "bench", "version": "1"}},
                }
            )
            events.append(NewEvent("bench", user, "track", payload))
        await store.append(events)
    await store.close()


ADMIN_TOKEN = "bench-admin-token-0001"


def start_csroute(
    workdir: Path, receiver: str, batch_size: int, role: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = {
        "data_dir": str(workdir),
        "server": {"host": "127.0.0.1", "port": port},
        "store": {"synchronous": "normal"},
        "sources": [{"name": "bench", "write_key": "bench-write-key"}],
        "destinations": [
            {
                "name": "hook",
                "type": "webhook",
                "settings": {"url": receiver, "batch_size": batch_size},
            }
        ],
        "connections": [{"source": "bench", "destinations": ["hook"]}],
        "delivery": {"concurrency": 16, "page_size": 2000},
        "admin": {"token": ADMIN_TOKEN},
    }
    (workdir / "csroute.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "csroute",
            "serve",
            "--config",
            str(workdir / "csroute.yaml"),
            "--role",
            role,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, port


def count(receiver: str) -> int:
    return int(httpx.get(f"{receiver}/count").text)


@contextmanager
def pipeline(
    events: int, batch_size: int, role: str
) -> Iterator[tuple[subprocess.Popen[bytes], str, int]]:
    """A log pre-filled with ``events``, a counting receiver, and csroute delivering to it."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        asyncio.run(prefill(workdir / "events.db", events))
        rport = free_port()
        receiver_proc = subprocess.Popen(
            [PYTHON, str(ROOT / "bench" / "counting_receiver.py"), str(rport)]
        )
        receiver = f"http://127.0.0.1:{rport}"
        wait_http(f"{receiver}/count")
        proc, port = start_csroute(workdir, receiver, batch_size, role)
        try:
            wait_http(f"http://127.0.0.1:{port}/health")
            yield proc, receiver, port
        finally:
            proc.terminate()
            proc.wait()
            receiver_proc.terminate()
            receiver_proc.wait()


def throughput(n: int, batch_size: int, watched: bool = False) -> dict[str, Any]:
    with pipeline(n, batch_size, "router") as (proc, receiver, port):
        viewer = Viewer(f"http://127.0.0.1:{port}", ADMIN_TOKEN) if watched else None
        start = time.monotonic()
        peak = 0.0
        while (seen := count(receiver)) < n:
            peak = max(peak, rss_mb(proc.pid))
            if time.monotonic() - start > 600:
                raise RuntimeError(f"only {seen} of {n} delivered")
            time.sleep(0.2)
        elapsed = time.monotonic() - start
        if viewer is not None:
            viewer.stop()
    return {
        "watched": watched,
        "records_seen": viewer.records if viewer is not None else 0,
        "events": n,
        "batch_size": batch_size,
        "seconds": round(elapsed, 2),
        "events_per_s": round(n / elapsed),
        "peak_rss_mb": round(peak, 1),
    }


def memory(backlog: int, seconds: float) -> dict[str, Any]:
    with pipeline(backlog, 100, "all") as (proc, receiver, _):
        peak, start = 0.0, time.monotonic()
        while time.monotonic() - start < seconds:
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(0.2)
        delivered = count(receiver)
    return {
        "backlog": backlog,
        "sampled_s": seconds,
        "delivered_meanwhile": delivered,
        "peak_rss_mb": round(peak, 1),
    }


def capture(n: int, rounds: int) -> None:
    runs = {False: [], True: []}  # type: dict[bool, list[dict[str, Any]]]
    for _ in range(rounds):
        for watched in (False, True):
            runs[watched].append(throughput(n, 100, watched))
    off = sorted(r["events_per_s"] for r in runs[False])[rounds // 2]
    on = sorted(r["events_per_s"] for r in runs[True])[rounds // 2]
    results = {"machine": machine(), "runs": runs[False] + runs[True], "on_vs_off": on / off}
    print(json.dumps(results, indent=2))
    print(f"median events/s: off {off:,}, on with 1 viewer {on:,}; on / off {on / off:.3f}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "delivery-capture.json").write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--memory-seconds", type=float, default=30)
    parser.add_argument("--capture", action="store_true", help="capture off vs on, 1 viewer")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (--capture)")
    args = parser.parse_args()
    if args.capture:
        capture(args.events, args.rounds)
        return
    results: dict[str, Any] = {
        "machine": machine(),
        "throughput": [throughput(args.events, 100), throughput(args.events // 10, 1)],
        "memory": memory(args.backlog, args.memory_seconds),
    }
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "delivery.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
