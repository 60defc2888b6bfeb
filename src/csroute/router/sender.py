"""Performing requests: one place that turns a ``Request`` into an ``Attempt``.

Network failures (refused, reset, timeout) become attempts with no status, so the retry policy
treats them like any other retryable outcome instead of as exceptions. aiohttp rather than
httpx here: on this hot path it sends about 20x more requests per second (docs/dependencies.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp
import msgspec

from csroute.destinations.base import Request
from csroute.router.redact import NO_SECRETS, Secrets
from csroute.secrets import Scrubber

MAX_KEPT_BODY = 4096
"""Bytes of a response body kept for dead letters and logs."""
MAX_READ_BODY = 1 << 20
"""Bytes of a response body kept when the router must read all of it (a batch's outcome:
Custify's ``GET /batch/{id}`` reports each of up to 100 jobs, tens of KB)."""


@dataclass(slots=True, frozen=True)
class Attempt:
    status: int | None  # None: no HTTP response (network error or timeout)
    body: bytes
    error: str  # empty on success
    retry_after_s: float | None = None
    elapsed_s: float = 0.0  # from sending the request to having the whole response (or error)

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


def new_session(connections: int) -> aiohttp.ClientSession:
    """A connection pool for one destination (so destinations never wait on each other)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        headers={"User-Agent": "csroute"},
    )


async def send(
    session: aiohttp.ClientSession,
    request: Request,
    timeout: aiohttp.ClientTimeout,
    secrets: Secrets = NO_SECRETS,
    keep: int = MAX_KEPT_BODY,
) -> Attempt:
    """Perform ``request``. The response body and the error text are scrubbed of ``secrets``
    (and of the request's credentials) here, before anything can store or print them: a
    receiver may echo the request's ``Authorization`` in its error body. ``keep``: how many
    bytes of the body to keep."""
    data = None if request.body is None else msgspec.json.encode(request.body)
    started = time.monotonic()
    try:
        async with session.request(
            request.method,
            request.url,
            params=dict(request.params) or None,
            headers=dict(request.headers),
            data=data,
            timeout=timeout,
        ) as response:
            body = await response.read()
            status = response.status
            retry_after = response.headers.get("Retry-After")
    except TimeoutError:
        return Attempt(
            None, b"", f"timed out after {timeout.total:g}s", None, time.monotonic() - started
        )
    except aiohttp.ClientError as e:
        error = f"connection error: {type(e).__name__}: {e}".rstrip(": ")
        return Attempt(
            None, b"", secrets.scrubber(request).text(error), None, time.monotonic() - started
        )
    error = "" if 200 <= status < 300 else f"HTTP {status}"
    elapsed = time.monotonic() - started
    kept = _kept(body, secrets.scrubber(request), keep)
    return Attempt(status, kept, error, _retry_after(retry_after), elapsed)


def _kept(body: bytes, scrub: Scrubber, keep: int) -> bytes:
    """The part of a response body kept, scrubbed before it is cut (a secret across the cut
    would otherwise leave its first half in clear)."""
    if not scrub:
        return body[:keep]
    return scrub.bytes(body[: 2 * keep])[:keep]
