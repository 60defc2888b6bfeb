"""Custify triggers: how soon a change in Custify is handed on, and what polling costs.

    .venv/bin/python bench/triggers.py [--push-samples 30] [--poll-samples 4] [--rounds 2]
                                       [--companies 20] [--parts budget,push,poll]
                                       [--out triggers]

The Custify sandbox runs as its own process with Custify's default limit (100 requests per 10 s
per API key); csroute's triggers run in this process on a SQLite store, with the default
settings (60 s interval, 10% of the key's budget). A second API key arranges the account, so
arranging spends none of the polling key's budget. Measured:

- push: from a note's ``POST /note`` to its record handed on by the Note Created trigger, which
  the sandbox's outgoing webhook reaches (signed, verified, deduplicated);
- polling at the default interval: from a note's creation, at a random moment, to its hand-off
  by the running poll loop; and one poll's own time (request to hand-off);
- the requests one poll of all 24 triggers makes on an idle account (every resource holding a
  few records, nothing changing), as the pollers count them; per hour at the default
  interval, as a share of the key's budget (100 / 10 s = 36,000 per hour); the same with files
  and customer objectives iterating ``--companies`` companies; and the rate the polls ran at.

Prints the results and writes JSON to bench/results/<--out>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from common import free_port, machine, wait_http
from csroute.config import parse
from csroute.serve import _server
from csroute.store.sqlite import SQLiteStore
from csroute.triggers.catalog import TRIGGERS
from csroute.triggers.push import PushApp
from csroute.triggers.runner import Triggers

POLL_KEY, ARRANGE_KEY = "bench-triggers-key", "bench-arrange-key"
SECRET = "bench-secret"
BUDGET_PER_HOUR = 100 / 10 * 3600
SEEDED = ("surveys", "meetings", "health_scores", "segments", "lifecycles", "playbooks")


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 4),
        "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 4),
        "max": round(ordered[-1], 4),
    }


class Account:
    """The sandbox, arranged through a key of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {ARRANGE_KEY}"}, timeout=30
        )

    async def ok(self, response: Any) -> Any:
        answered = await response
        answered.raise_for_status()
        return answered.json()

    async def arrange(self, companies: int) -> str:
        """A few records of every resource; returns the first company's id."""
        ids = []
        for n in range(companies):
            made = await self.ok(self.http.post("/company", json={"company_id": f"c{n}"}))
            ids.append(made["id"])
        person = await self.ok(self.http.post("/people", json={"user_id": "p0"}))
        await self.note(person["id"])
        await self.ok(
            self.http.post("/task", json={"name": "t", "priority": "low", "status": "open"})
        )
        await self.ok(self.http.post("/ticket", json={"externalId": "x0", "title": "t"}))
        track = {"name": "t", "duration": 60, "startedDate": "2026-01-01T00:00:00Z"}
        await self.ok(self.http.post("/time-track", params={"user": "csm@x.io"}, json=track))
        files = {"file": ("f.txt", b"hi", "text/plain")}
        await self.ok(self.http.post("/file", files=files, data={"companyId": ids[0]}))
        seed: dict[str, list[dict[str, Any]]] = {name: [{"name": "r"}] for name in SEEDED}
        seed["surveys"][0]["type"] = "nps"
        seed["objectives"] = [{"name": "o", "company": company} for company in ids]
        await self.ok(self.http.post("/__sandbox/seed", json=seed))
        self.person = person["id"]
        return str(ids[0])

    async def note(self, person: str | None = None) -> str:
        body = {"text": "hello", "entity": person or self.person, "entityModel": "Customer"}
        return str((await self.ok(self.http.post("/note", json=body)))["id"])


def config(url: str, data: Path, triggers: dict[str, Any]) -> Any:
    return parse(
        yaml.safe_dump(
            {
                "data_dir": str(data),
                "sources": [{"name": "custify", "write_key": "wk"}],
                "custify_connections": {"bench": {"api_key": POLL_KEY, "base_url": url}},
                "triggers": triggers,
            }
        )
    )


class Handoffs:
    """Replaces a trigger's outputs: notes when each record was handed on."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.arrived = asyncio.Event()

    async def __call__(self, out: dict[str, Any]) -> None:
        self.at.setdefault(out["id"], time.perf_counter())
        self.arrived.set()

    async def close(self) -> None:
        """Nothing to release (the real outputs' interface)."""

    async def wait_for(self, id: str) -> float:
        while id not in self.at:
            self.arrived.clear()
            await self.arrived.wait()
        return self.at[id]


async def bench_push(account: Account, url: str, data: Path, samples: int) -> dict[str, Any]:
    trigger = {"type": "note_created", "track": {"source": "custify"}, "push": {"secret": SECRET}}
    store = await SQLiteStore.open(data / "push.db")
    triggers = Triggers(config(url, data, {"notes": trigger}), store)
    handoffs = triggers.running["notes"].outputs = Handoffs()  # type: ignore[assignment]
    port = free_port()
    server = _server(PushApp(triggers, handoffs), "127.0.0.1", port)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    hook = {"url": f"http://127.0.0.1:{port}/triggers/notes/webhook", "secret": SECRET,
            "events": ["note.created"]}  # fmt: skip
    await account.ok(account.http.post("/__sandbox/webhooks", json=hook))
    print("push: measuring", file=sys.stderr)
    latencies = []
    for _ in range(samples):
        started = time.perf_counter()
        id = await account.note()
        latencies.append(await handoffs.wait_for(id) - started)
        await asyncio.sleep(0.3)  # keeps the arranging key under its own limit
    server.should_exit = True
    await task
    await triggers.stop()
    await store.close()
    return {"samples": samples, "latency_s": percentiles(latencies)}


async def bench_poll(account: Account, url: str, data: Path, samples: int) -> dict[str, Any]:
    trigger = {"type": "note_created", "track": {"source": "custify"}}
    store = await SQLiteStore.open(data / "poll.db")
    triggers = Triggers(config(url, data, {"notes": trigger}), store)
    handoffs = triggers.running["notes"].outputs = Handoffs()  # type: ignore[assignment]
    interval = triggers.running["notes"].config.interval()
    await triggers.poll("notes")  # the first run: from now
    share = triggers.running["notes"].poller.share
    one_poll = []
    for _ in range(5):
        id = await account.note()
        # as in the loop, where polls are a minute apart: the share's next slot is free
        await asyncio.sleep(max(0.0, share.next_slot - time.monotonic()))
        started = time.perf_counter()
        await triggers.poll("notes")
        one_poll.append(handoffs.at[id] - started)
    triggers.start()
    print("polling at the default interval: measuring", file=sys.stderr)
    latencies = []
    for _ in range(samples):
        await asyncio.sleep(random.uniform(0, interval))
        started = time.perf_counter()
        id = await account.note()
        latencies.append(await handoffs.wait_for(id) - started)
    await triggers.stop()
    await store.close()
    return {
        "interval_s": interval,
        "samples": samples,
        "latency_s": percentiles(latencies),
        "one_poll_s": percentiles(one_poll),
        "expected_mean_s": round(interval / 2 + statistics.median(one_poll), 3),
    }


async def bench_budget(
    account: Account, url: str, data: Path, rounds: int, company: str, each: bool
) -> dict[str, Any]:
    scope = {"each_company": True} if each else {"company": company}
    triggers_config = {
        t.key: {
            "type": t.key,
            "track": {"source": "custify"},
            **({"scope": scope} if t.resource.scoped else {}),
        }
        for t in TRIGGERS
    }
    store = await SQLiteStore.open(data / f"budget-{each}.db")
    triggers = Triggers(config(url, data, triggers_config), store)
    for name in triggers.running:
        triggers.running[name].outputs = Handoffs()  # type: ignore[assignment]

    async def one_round() -> tuple[int, float]:
        before = sum(r.poller.requests for r in triggers.running.values())
        started = time.perf_counter()
        await asyncio.gather(*(triggers.poll(name) for name in triggers.running))
        elapsed = time.perf_counter() - started
        return sum(r.poller.requests for r in triggers.running.values()) - before, elapsed

    await one_round()  # the first run of every trigger: from now
    print(f"budget ({'each company' if each else 'one company'}): measuring", file=sys.stderr)
    measured = [await one_round() for _ in range(rounds)]
    await triggers.stop()
    await store.close()
    per_round = statistics.median(n for n, _ in measured)
    interval = next(iter(triggers.running.values())).config.interval()
    per_hour = per_round * 3600 / interval
    return {
        "scoped_by": "each_company" if each else "one company",
        "requests_per_poll_of_all_24": per_round,
        "requests_per_hour": per_hour,
        "share_of_budget": round(per_hour / BUDGET_PER_HOUR, 4),
        "polling_rate_per_s": round(sum(n for n, _ in measured) / sum(s for _, s in measured), 3),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "csroute", "sandbox", "custify", "--port", str(port),
               "--api-key", POLL_KEY, "--api-key", ARRANGE_KEY,
               "--rate-limit", "100/10"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"{url}/__sandbox/state?summary=true")
        account = Account(url)
        company = await account.arrange(args.companies)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            results: dict[str, Any] = {"machine": machine()}
            if "budget" in args.parts:
                results["budget"] = [
                    await bench_budget(account, url, data, args.rounds, company, each=False),
                    await bench_budget(account, url, data, args.rounds, company, each=True),
                ]
            if "push" in args.parts:
                results["push"] = await bench_push(account, url, data, args.push_samples)
            if "poll" in args.parts:
                results["poll"] = await bench_poll(account, url, data, args.poll_samples)
        results["companies"] = args.companies
        return results
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--push-samples", type=int, default=30)
    parser.add_argument("--poll-samples", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--parts", default="budget,push,poll", help="what to measure")
    parser.add_argument("--out", default="triggers")
    arguments = parser.parse_args()
    found = asyncio.run(main(arguments))
    print(json.dumps(found, indent=2))
    out = Path(__file__).resolve().parent / "results" / f"{arguments.out}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(found, indent=2))
