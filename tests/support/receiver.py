"""A webhook receiver for tests: records the events it accepts and fails on demand.

Faults are chosen per request by ``plan(n, body)`` (n counts requests from 0; body is the
decoded JSON): ``None`` accepts,
``"500"``/``"400"`` answer that status, ``"429"`` answers 429 with ``Retry-After``,
``"timeout"`` answers too late for the client, ``"drop"`` starts a response and breaks the
connection mid-body, ``"hold"`` keeps the request waiting until the test calls ``release()`` and
then accepts it (a receiver exactly as slow as the test wants). Only accepted requests are
recorded, so a test can demand that every event arrives exactly in order.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec

Fault = str | None
Plan = Callable[[int, Any], Fault]


class Receiver:
    def __init__(
        self, plan: Plan | None = None, *, retry_after: str = "1", timeout_s: float = 2.0
    ) -> None:
        self.plan: Plan = plan or (lambda _n, _body: None)
        self.retry_after = retry_after
        self.timeout_s = timeout_s
        self.accepted: list[dict[str, Any]] = []  # events, batches flattened
        self.bodies: list[Any] = []  # accepted request bodies as sent
        self.statuses: Counter[str] = Counter()
        self.requests = 0
        self.headers: list[dict[str, str]] = []
        self.holding = 0  # requests held now
        self._released = threading.Event()
        self._lock = threading.Lock()

    def release(self) -> None:
        """Let every held request through, and those to come."""
        self._released.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away mid-request (killed): nothing was delivered
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._lock:
            n = self.requests
            self.requests += 1
        decoded = msgspec.json.decode(body) if body else None
        fault = self.plan(n, decoded)
        self.statuses[fault or "200"] += 1
        if fault == "hold":
            with self._lock:
                self.holding += 1
            while not self._released.is_set():
                await asyncio.sleep(0.01)
            with self._lock:
                self.holding -= 1
            fault = None
        if fault == "timeout":
            await asyncio.sleep(self.timeout_s)
            await self._respond(send, 500, b"too late")
        elif fault == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"100")],
                }
            )
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            raise ConnectionAbortedError("dropping the connection on purpose")
        elif fault == "429":
            await self._respond(
                send, 429, b"slow down", [(b"retry-after", self.retry_after.encode())]
            )
        elif fault is not None:
            await self._respond(send, int(fault), b'{"error": "injected"}')
        else:
            with self._lock:
                self.bodies.append(decoded)
                self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
                self.accepted.extend(decoded if isinstance(decoded, list) else [decoded])
            await self._respond(send, 200, b'{"ok": true}')

    @staticmethod
    async def _respond(
        send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *(headers or [])],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def by_user(self, key: str = "userId") -> dict[str, list[dict[str, Any]]]:
        users: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            for event in self.accepted:
                users.setdefault(str(event.get(key)), []).append(event)
        return users
