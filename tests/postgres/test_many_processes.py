"""Several csroute processes on one PostgreSQL database, as a scaled-out deployment runs.

Two gateways ingest at once, three workers share the delivery, and one worker is killed with
SIGKILL while it holds partitions: the other two take its partitions over once its leases
expire, every acknowledged event reaches the receiver, and each user's events arrive in order.
"""

from __future__ import annotations

import copy
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from support.postgres import fresh_database
from support.process import CSROUTE, CsrouteProcess
from support.receiver import Receiver
from support.servers import ServerThread

WRITE_KEY = "pg-write-key-0001"


def config(url: str, receiver_url: str) -> dict[str, Any]:
    return {
        "store": {"backend": "postgres", "url": url, "partitions": 8, "lease_ttl_s": 2},
        "sources": [{"name": "app", "write_key": WRITE_KEY}],
        "destinations": [{"name": "hook", "type": "webhook", "settings": {"url": receiver_url}}],
        "connections": [{"source": "app", "destinations": ["hook"]}],
        "delivery": {"backoff_base_s": 0.05, "backoff_max_s": 0.5, "max_attempts": 1000},
    }


def wait_for(check: Any, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.05)


def lease_holders(url: str) -> dict[str, int]:
    """Worker owner id -> partitions it holds now."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT owner, count(*) FROM leases WHERE owner IS NOT NULL AND expires_at > %s"
            " GROUP BY owner",
            (time.time(),),
        ).fetchall()
    return {owner: n for owner, n in rows}


class Producer(threading.Thread):
    """Posts batches to one gateway for users of its own, numbering each user's events."""

    def __init__(self, gateway: str, users: list[str]) -> None:
        super().__init__()
        self.gateway, self.users = gateway, users
        self.acked: dict[str, list[int]] = {u: [] for u in users}
        self.stop = threading.Event()

    def run(self) -> None:
        next_n = dict.fromkeys(self.users, 0)
        with httpx.Client(timeout=10) as http:
            while not self.stop.is_set():
                batch = []
                for user in self.users:
                    batch.append(
                        {
                            "type": "track",
                            "userId": user,
                            "event": "Tick",
                            "properties": {"n": next_n[user]},
                        }
                    )
                response = http.post(
                    f"{self.gateway}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, "")
                )
                assert response.status_code == 200, response.text
                for user in self.users:
                    self.acked[user].append(next_n[user])
                    next_n[user] += 1

    @property
    def count(self) -> int:
        return sum(len(ns) for ns in self.acked.values())


def test_two_gateways_three_workers_and_a_killed_worker(tmp_path: Path) -> None:
    url = fresh_database()
    receiver = Receiver()
    with ServerThread(receiver) as server:
        cfg = config(url, server.url)
        (tmp_path / "migrate").mkdir()
        migrate = CsrouteProcess(tmp_path / "migrate", copy.deepcopy(cfg))
        done = subprocess.run(
            [*CSROUTE, "db", "migrate", "--config", str(migrate.config_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        processes = []
        for role, name in [("gateway", "g1"), ("gateway", "g2")] + [
            ("worker", f"w{i}") for i in range(3)
        ]:
            (tmp_path / name).mkdir()
            processes.append(CsrouteProcess(tmp_path / name, copy.deepcopy(cfg), role=role).start())
        gateways, workers = processes[:2], processes[2:]
        producers = [Producer(g.url, [f"{g.port}-u{i}" for i in range(10)]) for g in gateways]
        try:
            for p in producers:
                p.start()
            wait_for(lambda: len(lease_holders(url)) == 3 and len(receiver.accepted) > 500)
            holders = lease_holders(url)
            victim = next(w for w in workers if any(f":{w.proc.pid}:" in o for o in holders))
            (victim_id,) = (o for o in holders if f":{victim.proc.pid}:" in o)
            victim.kill()
            delivered = len(receiver.accepted)
            wait_for(lambda: len(receiver.accepted) > delivered + 2000)
            # The survivors hold every partition between them once the victim's leases expire.
            wait_for(lambda: victim_id not in lease_holders(url))
            wait_for(lambda: sum(lease_holders(url).values()) == 8)
            # Usually both survivors share them; one that stalls past the lease time on a busy
            # machine hands its share to the other, which is right too.
            survivors = [w.proc.pid for w in workers if w is not victim]
            for owner in lease_holders(url):
                assert any(f":{pid}:" in owner for pid in survivors), owner
            for p in producers:
                p.stop.set()
                p.join()
            acked = {u: ns for p in producers for u, ns in p.acked.items()}
            wait_for(
                lambda: (
                    {(e["userId"], e["properties"]["n"]) for e in receiver.accepted}
                    >= {(u, n) for u, ns in acked.items() for n in ns}
                )
            )
        finally:
            for p in producers:
                p.stop.set()
            for process in processes:
                process.stop()
    for user, events in receiver.by_user().items():
        # At least once: a round the victim had in flight may come again. Order is judged on
        # each event's first arrival.
        firsts = list(dict.fromkeys(e["properties"]["n"] for e in events))
        assert firsts == acked[user], user
