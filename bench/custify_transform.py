"""Custify transform throughput on one core, for a mixed identify/track/group stream.

    .venv/bin/python bench/custify_transform.py [--events 100000] [--rounds 5] [--profile]

Events look like what analytics SDKs send (context, library, page, traits, properties) and are
decoded dicts, as the router hands them to ``transform``: 30% identify, 60% track, 10% group,
spread over 5,000 users, with remembered traits for half of the tracks. Prints the best round
in events/s, for ``transform`` alone and for JSON decode plus transform.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from typing import Any

import msgspec

from csroute.destinations.custify import Settings, transform

PLANS = ("free", "starter", "pro", "enterprise")
EVENTS = ("Signed In", "Report Viewed", "Invoice Paid", "Seat Added", "Export Started")


def _context(rng: random.Random, user: int) -> dict[str, Any]:
    return {
        "library": {"name": "analytics-python", "version": "2.1.9"},
        "ip": f"10.0.{user % 250}.{rng.randrange(250)}",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
        "locale": "en-US",
        "page": {"path": "/app/reports", "url": "https://app.example.com/app/reports"},
        "traits": {"email": f"user{user}@example.com", "plan": rng.choice(PLANS)},
    }


def _event(rng: random.Random, n: int) -> dict[str, Any]:
    user = rng.randrange(5000)
    base: dict[str, Any] = {
        "messageId": f"msg-{n:08d}",
        "anonymousId": f"anon-{user}",
        "userId": f"user-{user}",
        "timestamp": "2026-01-02T03:04:05.678Z",
        "receivedAt": "2026-01-02T03:04:05.900Z",
        "context": _context(rng, user),
    }
    roll = rng.random()
    if roll < 0.3:
        base["type"] = "identify"
        base["traits"] = {
            "email": f"user{user}@example.com",
            "firstName": "Ada",
            "lastName": f"Lovelace{user}",
            "phone": "+40 721 000 000",
            "plan": rng.choice(PLANS),
            "seats": rng.randrange(1, 200),
            "createdAt": "2025-03-04T05:06:07.000Z",
            "sessionCount": rng.randrange(500),
            "company": {"id": f"co-{user % 700}", "name": "Acme"},
            "address": {"city": "Cluj", "country": "RO"},
        }
    elif roll < 0.9:
        base["type"] = "track"
        base["event"] = rng.choice(EVENTS)
        base["properties"] = {
            "report": "usage",
            "rows": rng.randrange(10_000),
            "format": "csv",
            "company_id": f"co-{user % 700}",
            "filters": {"range": "30d"},
            "tags": ["a", "b"],
            "paid": rng.random() < 0.5,
        }
        if rng.random() < 0.5:
            del base["context"]["traits"]
    else:
        base["type"] = "group"
        base["groupId"] = f"co-{user % 700}"
        base["traits"] = {
            "name": f"Company {user % 700}",
            "industry": "Software",
            "employees": rng.randrange(5, 5000),
            "plan": rng.choice(PLANS),
            "website": "https://acme.example",
            "monthlyRevenue": rng.randrange(100, 100_000),
            "address": {"city": "Cluj"},
        }
    return base


def stream(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [_event(rng, n) for n in range(count)]


def _rate(events: list[Any], settings: Settings, rounds: int, decode: bool) -> float:
    remembered = {"email": "remembered@example.com", "plan": "pro"}
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        if decode:
            for raw in events:
                transform(msgspec.json.decode(raw), settings, remembered)
        else:
            for event in events:
                transform(event, settings, remembered)
        best = max(best, len(events) / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    settings = Settings(api_key="bench-key")
    events = stream(args.events)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(_rate, events, settings, 1, False)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
        return
    encoded = [msgspec.json.encode(e) for e in events]
    print(f"transform:          {_rate(events, settings, args.rounds, False):>10,.0f} events/s")
    print(f"decode + transform: {_rate(encoded, settings, args.rounds, True):>10,.0f} events/s")


if __name__ == "__main__":
    main()
