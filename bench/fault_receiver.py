"""A webhook receiver that fails as told, and records every request it answers.

Run as ``python bench/fault_receiver.py PORT FAULTS_JSON``. ``FAULTS_JSON`` (every key optional):

    {"slow_users": {"u0": 5.0},          # these users' requests answer 200 after so many seconds
     "mix": {"500": 0.15, "429": 0.10,    # per request, one draw: answer 500, 429 (with
             "drop": 0.10, "timeout": 0.05},  # Retry-After), break the connection, or answer
     "retry_after": "1",                  # only after "timeout_s" (later than the client waits)
     "timeout_s": 3.0,
     "slow_rate": 0.10, "slow_s": 0.5,    # of the rest: answer 200 after slow_s
     "seed": 7}

``GET /count`` returns the events accepted so far (``?except=u0``: of the other users);
``GET /log`` every request as
``[user, [messageId, ...], arrived, answered, fault]`` (unix times; fault "" when accepted).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from typing import Any

import msgspec

from common import read_body, serve

FAULTS: dict[str, Any] = {}
RANDOM = random.Random()
LOG: list[tuple[str, list[str], float, float, str]] = []
ACCEPTED: Counter[str] = Counter()  # events per user


def choose(users: list[str]) -> tuple[str, float]:
    """The fault for one request, and how long to wait before answering."""
    slow_users: dict[str, float] = FAULTS.get("slow_users", {})
    for user in users:
        if user in slow_users:
            return "", slow_users[user]
    roll = RANDOM.random()
    for fault, rate in FAULTS.get("mix", {}).items():
        if roll < rate:
            return fault, FAULTS.get("timeout_s", 3.0) if fault == "timeout" else 0.0
        roll -= rate
    if RANDOM.random() < FAULTS.get("slow_rate", 0.0):
        return "", FAULTS.get("slow_s", 0.5)
    return "", 0.0


async def respond(send: Any, status: int, body: bytes, headers: list[Any] | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    arrived = time.time()
    body = await read_body(receive)
    if scope["method"] == "GET":
        left_out = scope["query_string"].decode().partition("except=")[2]
        reply = LOG if scope["path"] == "/log" else ACCEPTED.total() - ACCEPTED[left_out]
        await respond(send, 200, json.dumps(reply).encode())
        return
    decoded = msgspec.json.decode(body)
    events = decoded if isinstance(decoded, list) else [decoded]
    ids = [str(e.get("messageId")) for e in events]
    user = str(events[0].get("userId"))
    fault, wait = choose([str(e.get("userId")) for e in events])
    if wait:
        await asyncio.sleep(wait)
    LOG.append((user, ids, arrived, time.time(), fault))
    if fault == "drop":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"99")]}
        )
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ConnectionAbortedError("dropping the connection on purpose")
    if fault == "429":
        retry_after = str(FAULTS.get("retry_after", "1")).encode()
        await respond(send, 429, b"slow down", [(b"retry-after", retry_after)])
    elif fault:
        await respond(send, 500, b"injected")
    else:
        ACCEPTED.update(str(e.get("userId")) for e in events)
        await respond(send, 200, b"{}")


if __name__ == "__main__":
    FAULTS.update(json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    RANDOM.seed(FAULTS.get("seed", 7))
    serve(app, int(sys.argv[1]))
