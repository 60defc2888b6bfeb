"""What every Custify API request passes before it reaches a resource: injected faults, Bearer
auth, the per-key rate limit, and the accounting behind ``/__sandbox/state`` and ``/requests``.

It is plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which would cost a task per request
and could not drop a connection. Admin paths skip all of it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from http import HTTPStatus
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csroute.custify.sandbox.faults import Faults, Injection, drop_connection
from csroute.custify.sandbox.ratelimit import FixedWindowLimiter
from csroute.custify.sandbox.responses import Record, error_response
from csroute.custify.sandbox.settings import Settings
from csroute.custify.sandbox.state import State, now_iso
from csroute.secrets import mask

ADMIN_PREFIX = "/__sandbox"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNAUTHORIZED = "Access forbidden, invalid API-KEY was used"


def bearer_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def rate_limited(limit: int, retry_after: int) -> Response:
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
        "Retry-After": str(retry_after),
    }
    return error_response(429, "Too Many Requests", headers)


def injected_error(status: int) -> Response:
    """500 carries the spec's text; other statuses their standard phrase, if they have one."""
    if status == 500:
        return error_response(status, "Some other error occurred")
    try:
        return error_response(status, HTTPStatus(status).phrase)
    except ValueError:
        return error_response(status, f"Injected error {status}")


class Gate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        app_state = scope["app"].state
        started = time.perf_counter()
        status = 0

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        key = bearer_key(scope)
        injection = None
        try:
            injection = await self._pass(scope, receive, observe, key, app_state)
        finally:
            # A handler that crashed has sent nothing; the server answers it with a 500.
            fault = injection.kind if injection else None
            answered = None if fault == "drop" else (status or 500)
            sandbox: State = app_state.sandbox
            log: deque[Record] = app_state.request_log
            sandbox.requests["total"] += 1
            sandbox.requests[str(answered) if answered else "dropped"] += 1
            log.append(
                {
                    "time": now_iso(),
                    "method": scope["method"],
                    "path": scope["path"],
                    "query": scope["query_string"].decode("latin-1"),
                    "status": answered,
                    "fault": fault,
                    "key": mask(key) if key else None,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                }
            )

    async def _pass(
        self, scope: Scope, receive: Receive, send: Send, key: str | None, app_state: Any
    ) -> Injection | None:
        """Answer the request; returns the injected fault, if any."""
        settings: Settings = app_state.settings
        faults: Faults = app_state.faults
        limiter: FixedWindowLimiter | None = app_state.limiter
        injection = faults.draw() if faults.active else None
        fault = injection.kind if injection else None
        if faults.config.latency_ms:
            # At least the latency asked for: the loop may wake a timer a few µs early.
            until = time.perf_counter() + faults.config.latency_ms / 1000
            while (left := until - time.perf_counter()) > 0:
                await asyncio.sleep(left)
        if fault == "drop" and faults.config.drop_phase == "before":
            await drop_connection(receive)
            return injection
        response: Response | None = None
        if injection is not None and fault == "error":
            response = injected_error(injection.status)
        elif fault == "rate_limit":
            limit = limiter.limit if limiter else 100
            response = rate_limited(limit, limiter.seconds_to_reset(key or "") if limiter else 1)
        elif key is None or not (key in settings.api_keys or key in settings.read_only_keys):
            response = error_response(401, UNAUTHORIZED)
        elif key in settings.read_only_keys and scope["method"] not in READ_METHODS:
            response = error_response(403, "This API key is read-only")
        elif limiter is not None:
            verdict = limiter.check(key)
            if not verdict.allowed:
                response = rate_limited(verdict.limit, verdict.retry_after)
        if response is not None:
            await response(scope, receive, send)
        elif fault == "drop":
            await self.app(scope, receive, _swallow)
            await drop_connection(receive)
        else:
            await self.app(scope, receive, send)
        return injection


async def _swallow(message: Message) -> None:
    """The response of a request whose answer is to be lost after it was applied."""
