"""Ingestion throughput: csroute's gateway against a do-nothing ASGI app on the same stack.

    .venv/bin/python bench/gateway.py [--rounds 5] [--duration 5] [--connections 64]
    .venv/bin/python bench/gateway.py --capture [--rounds 5] [--duration 5]

csroute runs as the product does: ``csroute serve --role gateway`` with a configuration file
(SQLite store, ``synchronous: full``: each 200 follows an fsync'ed group commit). The
do-nothing app runs under the same uvicorn settings as ``csroute serve`` (httptools on uvloop,
one process, no access log), started by this file (``serve-noop PORT``). Both are driven by
``wrk`` (installed with apt-get if missing) with one thread and the same connections:

1. do-nothing: reads the body, answers 200 with a fixed JSON body;
2. csroute single: ``POST /v1/track`` with one SDK-like event, Basic auth, durable acks;
3. csroute batch: ``POST /v1/batch`` with 100 events per request; events/s is counted from
   the rows in the log after the run, not from responses.

The first two are compared in alternating rounds (do-nothing, csroute, do-nothing, ...) with
both servers up, and the ratio is that of the medians: on a shared machine the load of other
tenants moves every figure by tens of percent within a minute, and alternating short rounds
gives both servers the same conditions. The batch run is one run of ``--duration`` seconds.

With ``--capture``, it measures instead what watching costs: two gateways, one with the live
capture off (nobody watching) and one with a viewer reading ``/admin/stream`` unfiltered (in
a thread of this process) the whole time, loaded with ``/v1/track`` in rounds of one run each,
off first in even rounds and on first in odd ones (each after a 2 s warm-up of both);
written to bench/results/gateway-capture-c<connections>.json.

Prints a table and writes JSON to bench/results/gateway-c<connections>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from common import Viewer, ensure_wrk, free_port, machine, wrk_post_script

ROOT = Path(__file__).resolve().parent.parent
WRITE_KEY = "wk_bench_3c7e1a9f"


def event(i: int) -> dict[str, Any]:
    """A track event shaped like what the SDKs send (about 600 bytes)."""
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": f"user-{i % 1000}",
        "messageId": f"3f1c2d4e-0b7a-4c55-9e61-{i:012d}",
        "timestamp": "2026-11-22T10:00:00.123+00:00",
        "properties": {"order_id": f"o-{i}", "total": 129.5, "currency": "EUR", "items": 3},
        "context": {
            "library": {"name": "analytics-python", "version": "2.4.0"},
            "ip": "203.0.113.7",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        },
        "integrations": {},
    }


# -- the servers ---------------------------------------------------------------------------


async def noop(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"16")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"success":true}'})


async def serve_noop(port: int) -> None:
    """The do-nothing app under the uvicorn settings of ``csroute.serve``."""
    import uvicorn

    config = uvicorn.Config(
        noop,
        host="127.0.0.1",
        port=port,
        loop="none",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_config=None,
    )
    await uvicorn.Server(config).serve()


ADMIN_TOKEN = "bench-admin-token-0001"


def gateway_config(directory: Path, name: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(
        json.dumps(
            {
                "data_dir": str(directory),
                "store": {"path": f"{name}.db", "synchronous": "full"},
                "logging": {"level": "warning"},
                "sources": [{"name": "bench", "write_key": WRITE_KEY}],
                "admin": {"token": ADMIN_TOKEN},
            }
        )
    )
    return path


# -- the load ------------------------------------------------------------------------------


def run_wrk(url: str, script: Path, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    return {
        "requests": requests,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",  # type: ignore[dict-item]
        "p50": p50.group(1) if p50 else "",  # type: ignore[dict-item]
        "p99": p99.group(1) if p99 else "",  # type: ignore[dict-item]
    }


class Server:
    def __init__(self, kind: str, config: Path | None = None) -> None:
        self.port = free_port()
        if config is None:
            args = [sys.executable, __file__, "serve-noop", str(self.port)]
        else:
            csroute = str(Path(sys.executable).parent / "csroute")
            args = [csroute, "serve", "--role", "gateway", "-c", str(config)]
            args += ["--port", str(self.port), "--host", "127.0.0.1"]
        self.proc = subprocess.Popen(args, cwd=ROOT)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{kind} server did not start") from None
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def count_events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        n: int = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        return n


Runs = list[dict[str, Any]]


def _alternate(
    servers: tuple[Server, Server],
    script: Path,
    load: tuple[int, int, int],
    second_db: Path | None = None,
) -> tuple[Runs, Runs]:
    """Both servers warmed up, then loaded in turn for ``rounds``; with ``second_db``, the
    second's runs also count the events its log gained per second."""
    rounds, duration, connections = load
    first, second = servers
    run_wrk(first.url, script, 2, connections)  # warm-up
    run_wrk(second.url, script, 2, connections)
    first_runs: Runs = []
    second_runs: Runs = []
    for _ in range(rounds):
        first_runs.append(run_wrk(first.url, script, duration, connections))
        before = count_events(second_db) if second_db is not None else 0
        started = time.monotonic()
        run = run_wrk(second.url, script, duration, connections)
        if second_db is not None:
            run["events_per_s"] = (count_events(second_db) - before) / (time.monotonic() - started)
        second_runs.append(run)
    return first_runs, second_runs


def _setting(rounds: int, duration: int, connections: int) -> dict[str, Any]:
    """What a result was measured on and with."""
    return {
        "machine": machine(),
        "load_average_before": os.getloadavg()[0],
        "rounds": rounds,
        "duration_s": duration,
        "connections": connections,
    }


def bench(rounds: int, duration: int, connections: int) -> dict[str, Any]:
    ensure_wrk()
    single = msgspec.json.encode(event(1))
    batch = msgspec.json.encode(
        {"batch": [event(i) for i in range(100)], "sentAt": "2026-11-22T10:00:01Z"}
    )
    results = _setting(rounds, duration, connections)
    results |= {"single_body_bytes": len(single), "batch_body_bytes": len(batch)}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        single_lua = wrk_post_script(tmpdir, "/v1/track", single, WRITE_KEY)
        batch_lua = wrk_post_script(tmpdir, "/v1/batch", batch, WRITE_KEY)

        noop_server = Server("noop")
        single_server = Server("gateway", gateway_config(tmpdir, "single"))
        try:
            noop_runs, single_runs = _alternate(
                (noop_server, single_server),
                single_lua,
                (rounds, duration, connections),
                tmpdir / "single.db",
            )
        finally:
            noop_server.stop()
            single_server.stop()
        results["noop"] = _median_run(noop_runs)
        results["single"] = _median_run(single_runs)
        results["round_ratios"] = [
            s["requests_per_s"] / n["requests_per_s"]
            for n, s in zip(noop_runs, single_runs, strict=True)
        ]

        db = tmpdir / "batch.db"
        server = Server("gateway", gateway_config(tmpdir, "batch"))
        try:
            run_wrk(server.url, batch_lua, 2, connections)  # warm-up
            before = count_events(db)
            started = time.monotonic()
            result = run_wrk(server.url, batch_lua, duration, connections)
            elapsed = time.monotonic() - started
        finally:
            server.stop()
        result["events_per_s"] = (count_events(db) - before) / elapsed
        results["batch"] = result
    results["load_average_after"] = os.getloadavg()[0]
    results["single_vs_noop"] = (
        results["single"]["requests_per_s"] / results["noop"]["requests_per_s"]
    )
    return results


def bench_capture(rounds: int, duration: int, connections: int) -> dict[str, Any]:
    """/v1/track with the capture off vs on with one unfiltered viewer, alternating rounds."""
    ensure_wrk()
    single = msgspec.json.encode(event(1))
    results = _setting(rounds, duration, connections)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        lua = wrk_post_script(tmpdir, "/v1/track", single, WRITE_KEY)
        off = Server("gateway", gateway_config(tmpdir, "off"))
        on = Server("gateway", gateway_config(tmpdir, "on"))
        viewer = Viewer(on.url, ADMIN_TOKEN)
        off_runs: Runs = []
        on_runs: Runs = []
        try:
            for n in range(rounds):  # off first, then on first: neither has the later turn
                if n % 2 == 0:
                    off_run, on_run = _alternate((off, on), lua, (1, duration, connections))
                else:
                    on_run, off_run = _alternate((on, off), lua, (1, duration, connections))
                off_runs += off_run
                on_runs += on_run
        finally:
            viewer.stop()
            off.stop()
            on.stop()
    results["off"] = _median_run(off_runs)
    results["on"] = _median_run(on_runs)
    results["records_seen"] = viewer.records
    results["on_vs_off"] = results["on"]["requests_per_s"] / results["off"]["requests_per_s"]
    # Each on round ran next to its off round, under the same neighbours' load.
    ratios = sorted(
        n["requests_per_s"] / f["requests_per_s"] for f, n in zip(off_runs, on_runs, strict=True)
    )
    results["round_ratios"] = ratios
    results["median_round_ratio"] = ratios[len(ratios) // 2]
    results["load_average_after"] = os.getloadavg()[0]
    return results


def _header(results: dict[str, Any], compared: str) -> None:
    m = results["machine"]
    print(
        f"{m['cpus']} cores, {m['cpu']}, Python {m['python']}; wrk -t1 -c{results['connections']} "
        f"-d{results['duration_s']}s; {compared}: median of {results['rounds']} alternating rounds"
    )


def _write(results: dict[str, Any], name: str) -> None:
    out = ROOT / "bench" / "results" / f"{name}-c{results['connections']}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


def report_capture(results: dict[str, Any]) -> None:
    _header(results, "/v1/track with capture off and on")
    for label, key in (("capture off", "off"), ("capture on, 1 viewer", "on")):
        r = results[key]
        rounds = ", ".join(f"{x:,.0f}" for x in r["all_requests_per_s"])
        print(f"{label:<24}{r['requests_per_s']:>10,.0f} req/s  p99 {r['p99']}  ({rounds})")
    print(f"records the viewer got: {results['records_seen']:,}")
    print(f"on / off, medians: {results['on_vs_off']:.3f}")
    ratios = ", ".join(f"{r:.3f}" for r in results["round_ratios"])
    print(f"on / off, round by round: {ratios}; median {results['median_round_ratio']:.3f}")


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median requests/s, with every round's requests/s beside it."""
    ordered = sorted(runs, key=lambda r: r["requests_per_s"])
    median = dict(ordered[len(ordered) // 2])
    median["all_requests_per_s"] = [r["requests_per_s"] for r in runs]
    return median


def report(results: dict[str, Any]) -> None:
    m = results["machine"]
    _header(results, "do-nothing and /v1/track")
    print(f"{'run':<28}{'req/s':>10}{'events/s':>12}{'p50':>10}{'p99':>10}{'non-2xx':>9}")
    rows = (
        ("do-nothing ASGI", "noop"),
        ("csroute /v1/track", "single"),
        ("csroute /v1/batch x100", "batch"),
    )
    for label, key in rows:
        r = results[key]
        events = f"{r['events_per_s']:,.0f}" if "events_per_s" in r else "-"
        print(
            f"{label:<28}{r['requests_per_s']:>10,.0f}{events:>12}{r['p50']:>10}{r['p99']:>10}{r['non_2xx']:>9}"
        )
    print(
        f"load average (1 min) before/after: {results['load_average_before']:.1f}/"
        f"{results['load_average_after']:.1f} on {m['cpus']} cores"
    )
    print(f"single / do-nothing: {results['single_vs_noop']:.2f}x (target >= 0.6)")
    rounds = ", ".join(f"{r:.2f}" for r in results["round_ratios"])
    print(f"  round by round: {rounds}")
    print(f"batch events/s: {results['batch']['events_per_s']:,.0f} (target >= 50,000)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve-noop":
        import uvloop

        uvloop.run(serve_noop(int(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--capture", action="store_true", help="capture off vs on, 1 viewer")
    args = parser.parse_args()
    if args.capture:
        results = bench_capture(args.rounds, args.duration, args.connections)
        report_capture(results)
        _write(results, "gateway-capture")
        return
    results = bench(args.rounds, args.duration, args.connections)
    report(results)
    _write(results, "gateway")


if __name__ == "__main__":
    main()
