"""csroute on PostgreSQL: delivery with 1, 2 and 4 worker processes, ingestion through 2 gateways.

    .venv/bin/python bench/postgres.py [--events 100000] [--ingest-seconds 20]

Starts a throwaway PostgreSQL server (scripts/postgres.py, fsync on) on this machine.

1. Delivery: starts W ``csroute serve --role worker`` processes (8 partitions, webhook
   batches of 100) on a fresh database, waits until they have shared the partitions out, then
   commits N track events of 1,000 users in one transaction and times until
   ``bench/counting_receiver.py`` has counted all N.
2. Ingestion: two ``csroute serve --role gateway`` processes, each loaded by its own ``wrk``
   posting ``/v1/batch`` requests of 100 events; events/s is what the log holds afterwards
   divided by the duration.

Each delivery run is repeated (``--repeat``, 3) and the median reported: the machine is shared.
Prints a table and writes JSON to bench/results/postgres.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
import yaml

from common import ensure_wrk, free_port, wait_http, wrk_post_script
from csroute.events.model import NewEvent
from csroute.store.postgres import PostgresStore, migrate

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WRITE_KEY = "bench-write-key"
PARTITIONS = 8


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    spec = importlib.util.spec_from_file_location("pg", ROOT / "scripts" / "postgres.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with script.temporary_server(fsync=True) as url:
        yield url


def new_database(server: str, name: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}".encode())
        conn.execute(f"CREATE DATABASE {name}".encode())
    return server.rsplit("/", 1)[0] + "/" + name


def event(i: int) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Page Loaded",
        "userId": f"user-{i % 1000}",
        "messageId": f"m-{i}",
        "receivedAt": "2026-11-22T10:00:00.000Z",
        "timestamp": "2026-11-22T10:00:00.000Z",
        "properties": {"n": i, "path": "/pricing", "plan": "pro"},
        "context": {"library": {"name": "bench", "version": "1"}},
    }


async def backlog(url: str, n: int) -> None:
    """Append ``n`` events in one transaction: they become visible to the workers at once."""
    store = await PostgresStore.open(url)
    try:
        await store.append(
            [
                NewEvent("bench", f"user-{i % 1000}", "track", msgspec.json.encode(event(i)))
                for i in range(n)
            ]
        )
    finally:
        await store.close()


def balanced(url: str, workers: int) -> bool:
    """Whether the workers have shared all partitions out (each holding its fair share)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM leases WHERE owner IS NOT NULL AND expires_at > %s"
            " GROUP BY owner",
            (time.time(),),
        ).fetchall()
    return len(rows) == workers and sum(n for (n,) in rows) == PARTITIONS


def write_config(workdir: Path, url: str, receiver: str) -> Path:
    config = {
        "server": {"host": "127.0.0.1", "port": free_port()},
        "store": {"backend": "postgres", "url": url, "partitions": PARTITIONS},
        "logging": {"level": "warning"},
        "sources": [{"name": "bench", "write_key": WRITE_KEY}],
        "destinations": [
            {"name": "hook", "type": "webhook", "settings": {"url": receiver, "batch_size": 100}}
        ],
        "connections": [{"source": "bench", "destinations": ["hook"]}],
        "delivery": {"concurrency": 4, "page_size": 2000},
    }
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "csroute.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def serve(config: Path, role: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "-m", "csroute", "serve", "--config", str(config), "--role", role],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time these processes have used so far."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU time of the PostgreSQL server so far: its live processes, plus what its exited
    backends used (counted in the postmaster's children times)."""
    total = 0
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if not entry.name.isdigit() or (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = _stat(entry.name)
            total += int(fields[11]) + int(fields[12])
            if Path(f"/proc/{fields[1]}/comm").read_text().strip() != "postgres":
                total += int(fields[13]) + int(fields[14])  # the postmaster: add its children
    return total / os.sysconf("SC_CLK_TCK")


def commits(url: str) -> int:
    """Transactions committed in the database so far (appends, and our own few queries)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait()


def delivery(server: str, n: int, workers: int, tmp: Path) -> dict[str, Any]:
    """Start the workers on an empty log, let them share the partitions out, then commit the
    whole backlog at once and time its delivery: the steady rate, without start-up."""
    url = new_database(server, f"deliver{workers}")
    asyncio.run(migrate(url))
    rport = free_port()
    receiver_proc = subprocess.Popen(
        [PYTHON, str(ROOT / "bench" / "counting_receiver.py"), str(rport)]
    )
    receiver = f"http://127.0.0.1:{rport}"
    wait_http(f"{receiver}/count")
    procs = [
        serve(write_config(tmp / f"w{workers}-{i}", url, receiver), "worker")
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 60
        while not balanced(url, workers):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not share the partitions out")
            time.sleep(0.2)
        asyncio.run(backlog(url, n))
        start = time.monotonic()
        cpu_before = [cpu_seconds([p.pid for p in procs]), postgres_cpu()]
        while (seen := int(httpx.get(f"{receiver}/count").text)) < n:
            if time.monotonic() - start > 600:
                raise RuntimeError(f"only {seen} of {n} delivered")
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        cpu = {
            "workers": cpu_seconds([p.pid for p in procs]) - cpu_before[0],
            "postgres": postgres_cpu() - cpu_before[1],
        }
    finally:
        stop([*procs, receiver_proc])
    return {
        "workers": workers,
        "events": n,
        "seconds": round(elapsed, 2),
        "events_per_s": round(n / elapsed),
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
    }


def ingestion(server: str, seconds: int, tmp: Path) -> dict[str, Any]:
    ensure_wrk()
    url = new_database(server, "ingest")
    configs = [write_config(tmp / f"g{i}", url, "http://127.0.0.1:9/unused") for i in range(2)]
    procs = [serve(c, "gateway") for c in configs]
    ports = [yaml.safe_load(c.read_text())["server"]["port"] for c in configs]
    try:
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/health")
        batch = msgspec.json.encode({"batch": [event(i) for i in range(100)]})
        script = wrk_post_script(tmp, "/v1/batch", batch, WRITE_KEY)
        commits_before = commits(url)
        pg_before = postgres_cpu()
        loads = [
            subprocess.Popen(
                [
                    "wrk",
                    "-t1",
                    "-c32",
                    f"-d{seconds}s",
                    "-s",
                    str(script),
                    f"http://127.0.0.1:{port}",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for port in ports
        ]
        outputs = [load.communicate()[0] for load in loads]
        cpu = {
            "gateways": cpu_seconds([p.pid for p in procs]),
            "postgres": postgres_cpu() - pg_before,
        }
        transactions = commits(url) - commits_before
    finally:
        stop(procs)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    stored = int(row[0]) if row else 0
    non_2xx = sum(
        int(line.split(":")[1]) for out in outputs for line in out.splitlines() if "Non-2xx" in line
    )
    return {
        "gateways": 2,
        "seconds": seconds,
        "events_per_request": 100,
        "events_stored": stored,
        "events_per_s": round(stored / seconds),
        "non_2xx_responses": non_2xx,
        "transactions": transactions,
        "events_per_transaction": round(stored / max(transactions, 1), 1),
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--ingest-seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per worker count; the median is reported"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
        "delivery": [],
    }
    with postgres() as server, tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            runs = []
            for _ in range(args.repeat):
                runs.append(delivery(server, args.events, workers, Path(tmp)))
                print(json.dumps(runs[-1]), flush=True)
            runs.sort(key=lambda r: r["events_per_s"])
            results["delivery"].append({**runs[len(runs) // 2], "runs": runs})
        results["ingestion"] = ingestion(server, args.ingest_seconds, Path(tmp))
        print(json.dumps(results["ingestion"]), flush=True)
    out = ROOT / "bench" / "results" / "postgres.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("| worker processes | events | seconds | events/s | CPU s: workers, postgres |")
    print("|---|---|---|---|---|")
    for row in results["delivery"]:
        cpu = ", ".join(str(v) for v in row["cpu_s"].values())
        print(
            f"| {row['workers']} | {row['events']} | {row['seconds']} | {row['events_per_s']}"
            f" | {cpu} |"
        )
    ing = results["ingestion"]
    print(f"ingestion through 2 gateways: {ing['events_per_s']} events/s ({ing})")


if __name__ == "__main__":
    main()
