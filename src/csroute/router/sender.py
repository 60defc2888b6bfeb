"""Performing requests: one place that turns a ``Request`` into an ``Attempt``.

Network failures (refused, reset, timeout) become attempts with no status, so the retry policy
treats them like any other retryable outcome instead of as exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import msgspec

from csroute.destinations.base import Request

MAX_KEPT_BODY = 4096
"""Bytes of a response body kept for dead letters and logs."""


@dataclass(slots=True, frozen=True)
class Attempt:
    status: int | None  # None: no HTTP response (network error or timeout)
    body: bytes
    error: str  # empty on success
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: rare for APIs; the backoff schedule applies instead


async def send(client: httpx.AsyncClient, request: Request, timeout_s: float) -> Attempt:
    content = None if request.body is None else msgspec.json.encode(request.body)
    try:
        response = await client.request(
            request.method,
            request.url,
            params=request.params or None,
            headers=request.headers,
            content=content,
            timeout=timeout_s,
        )
    except httpx.TimeoutException:
        return Attempt(None, b"", f"timed out after {timeout_s:g}s")
    except httpx.HTTPError as e:
        return Attempt(None, b"", f"connection error: {type(e).__name__}: {e}".rstrip(": "))
    status = response.status_code
    body = response.content[:MAX_KEPT_BODY]
    error = "" if 200 <= status < 300 else f"HTTP {status}"
    return Attempt(status, body, error, _retry_after(response.headers.get("retry-after")))
