"""A worker process frozen past its lease (SIGSTOP), with a request in flight, while another
worker takes its partition over and delivers it; then thawed (SIGCONT).

The thawed worker sends nothing more and records nothing: it finds its lease gone (its writes
carry a stale fencing token, and it sends only while its lease is surely its own) and stops the
partition, saying so once. The receiver gets every event, and twice only the one event of the
request that was in flight when the worker froze.
"""

from __future__ import annotations

import copy
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg

from postgres.test_many_processes import WRITE_KEY, wait_for
from support.postgres import fresh_database
from support.process import CsrouteProcess
from support.receiver import Receiver
from support.servers import ServerThread

USERS = [f"u{i}" for i in range(5)]
STOPPED_MESSAGES = ("partition taken over by another worker", "lost partition lease")


def config(url: str, receiver_url: str) -> dict[str, Any]:
    return {
        "store": {"backend": "postgres", "url": url, "partitions": 1, "lease_ttl_s": 2},
        "sources": [{"name": "app", "write_key": WRITE_KEY}],
        "destinations": [
            # A request outstanding for a second is parked until its timeout has surely
            # passed: a short timeout keeps that wait short, whenever the freeze comes.
            {"name": "hook", "type": "webhook", "settings": {"url": receiver_url, "timeout_s": 2}}
        ],
        "connections": [{"source": "app", "destinations": ["hook"]}],
        "delivery": {"concurrency": 1, "backoff_base_s": 0.05, "backoff_max_s": 0.5},
    }


def holder(url: str) -> str | None:
    """Who holds the destination's one partition now."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT owner FROM leases WHERE destination = 'hook' AND expires_at > %s",
            (time.time(),),
        ).fetchone()
    return None if row is None else row[0]


def delivered_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(n), 0) FROM counters"
            " WHERE destination = 'hook' AND kind = 'delivered'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def post(gateway: str, round_: int) -> set[tuple[str, int]]:
    """One event per user, numbered ``round_``; returns what the gateway acknowledged."""
    batch = [
        {"type": "track", "userId": u, "event": "Tick", "properties": {"n": round_}} for u in USERS
    ]
    response = httpx.post(f"{gateway}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""))
    assert response.status_code == 200, response.text
    return {(u, round_) for u in USERS}


def test_a_worker_frozen_past_its_lease_cannot_record_or_deliver_again(tmp_path: Path) -> None:
    url = fresh_database()
    in_flight: list[tuple[str, int]] = []

    def hold_the_first(n: int, body: Any) -> str | None:
        if n == 0:
            in_flight.append((body["userId"], body["properties"]["n"]))
            return "hold"
        return None

    receiver = Receiver(hold_the_first)

    def arrived() -> Counter[tuple[str, int]]:
        return Counter((e["userId"], e["properties"]["n"]) for e in receiver.accepted)

    with ServerThread(receiver) as server:
        cfg = config(url, server.url)
        dirs = {name: tmp_path / name for name in ("gateway", "a", "b")}
        for d in dirs.values():
            d.mkdir()
        gateway = CsrouteProcess(dirs["gateway"], copy.deepcopy(cfg), role="gateway").start()
        a = CsrouteProcess(dirs["a"], copy.deepcopy(cfg), role="worker").start()
        b = CsrouteProcess(dirs["b"], copy.deepcopy(cfg), role="worker")
        assert a.proc is not None
        frozen = False
        try:
            wait_for(lambda: f":{a.proc.pid}:" in (holder(url) or ""))
            sent = post(gateway.url, 0) | post(gateway.url, 1)
            wait_for(lambda: receiver.holding == 1)
            os.kill(a.proc.pid, signal.SIGSTOP)
            frozen = True

            # b takes the partition over once a's lease expired, and delivers everything,
            # the event of a's request in flight included.
            b.start()
            assert b.proc is not None
            wait_for(lambda: f":{b.proc.pid}:" in (holder(url) or ""))
            wait_for(lambda: set(arrived()) == sent)
            sent |= post(gateway.url, 2)
            wait_for(lambda: set(arrived()) == sent)

            # a's request in flight is answered, and a thaws.
            receiver.release()
            wait_for(lambda: receiver.holding == 0)
            os.kill(a.proc.pid, signal.SIGCONT)
            frozen = False
            wait_for(lambda: any(m in a.log.read_text() for m in STOPPED_MESSAGES))

            # b goes on alone.
            sent |= post(gateway.url, 3)
            wait_for(lambda: set(arrived()) == sent)
            wait_for(lambda: delivered_count(url) == len(sent))
            assert f":{b.proc.pid}:" in (holder(url) or "")
            assert a.proc.poll() is None  # a lives on, without the partition
        finally:
            if frozen:
                os.kill(a.proc.pid, signal.SIGCONT)
            for process in (a, b, gateway):
                process.stop()

    # Every event arrived; the one of a's request in flight twice (a's request and b's), no
    # other event more than once.
    counts = arrived()
    assert set(counts) == sent
    assert {e: n for e, n in counts.items() if n > 1} == {in_flight[0]: 2}
    # a recorded nothing after its thaw: the store counts each event delivered once (b's).
    assert delivered_count(url) == len(sent)
    said = a.log.read_text()
    assert sum(said.count(m) for m in STOPPED_MESSAGES) == 1, said[-3000:]
