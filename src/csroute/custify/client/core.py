"""The request core every resource goes through: auth, the shared rate limiter, retries,
typed errors, dry runs, and paging over Custify's listing envelopes.

aiohttp, as in the router's sender: it is the faster client here (docs/dependencies.md). The
limiter is the process-wide one under the pipeline's own key for this API key, so the client and
the event pipeline spend one budget between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import msgspec

from csroute.custify.client.connection import Connection
from csroute.custify.client.envelopes import Record, items
from csroute.custify.client.errors import (
    CustifyError,
    RateLimited,
    ServerError,
    TransportError,
    error_for,
)
from csroute.network import failure_message
from csroute.router.ratelimit import LIMITERS, Limiters
from csroute.secrets import mask, scrubber

MAX_BACKOFF_S = 30.0
CONNECT_ATTEMPTS = 2
"""Tries of a read that cannot connect at all (timeouts and resets get ``max_attempts``)."""
Pace = Callable[[], Awaitable[None]]
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Upload:
    """A ``multipart/form-data`` body: one file plus plain form fields."""

    filename: str
    content: bytes
    content_type: str
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call:
    """One Custify request: path relative to the base URL, query, JSON body or upload."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    upload: Upload | None = None

    @property
    def where(self) -> str:
        return f"{self.method} {self.path}"


def query(**params: Any) -> dict[str, str]:
    """Query parameters as Custify takes them: JSON for objects and arrays (``sorting``,
    ``filters``), ``true``/``false`` for booleans; None leaves a parameter out."""
    encoded = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            encoded[name] = "true" if value else "false"
        elif isinstance(value, dict | list | tuple):
            encoded[name] = _encoder.encode(value).decode()
        else:
            encoded[name] = str(value)
    return encoded


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # the HTTP-date form; the limiter's own pause applies


class Core:
    """One connection's requests. With ``dry_run`` requests are recorded in ``recorded``
    instead of sent, and every answer is ``{}``."""

    def __init__(
        self, connection: Connection, *, dry_run: bool = False, limiters: Limiters = LIMITERS
    ) -> None:
        self.connection = connection
        self.dry_run = dry_run
        self.limiter = limiters.get(connection.rate_limit)
        self.recorded: list[Record] = []
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return self.connection.base_url.rstrip("/")

    def headers(self, call: Call, *, masked: bool = False) -> dict[str, str]:
        key = mask(self.connection.api_key) if masked else self.connection.api_key
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        elif call.upload is not None:
            headers["Content-Type"] = "multipart/form-data"
        return headers

    def describe(self, call: Call) -> Record:
        """The exact request, API key masked: what ``--dry-run`` prints."""
        described: Record = {
            "method": call.method,
            "url": self.base_url + call.path,
            "params": dict(call.params),
            "headers": self.headers(call, masked=True),
            "body": call.body,
        }
        if call.upload is not None:
            described["multipart"] = {
                "file": {
                    "filename": call.upload.filename,
                    "content_type": call.upload.content_type,
                    "bytes": len(call.upload.content),
                },
                **call.upload.fields,
            }
        return described

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, call: Call) -> Any:
        """Send ``call`` and return its decoded JSON answer (None for an empty body).

        429 pauses everyone on this key until ``Retry-After`` and retries; 5xx waits
        ``Retry-After`` (else an exponential backoff) and retries; network errors are retried
        for reads only, since a lost write may have been applied. Attempts are bounded by the
        connection's ``max_attempts``; the last failure is raised as a typed error.
        """
        if self.dry_run:
            self.recorded.append(self.describe(call))
            return {}
        attempts = max(1, self.connection.max_attempts)
        for attempt in range(1, attempts + 1):
            await self.limiter.acquire()
            try:
                status, raw, retry_after = await self._send(call)
            except (aiohttp.ClientError, TimeoutError) as e:
                failure: CustifyError = TransportError(
                    failure_message(call.method, self.base_url + call.path, e, attempt)
                )
                # Nothing listening (or no such host) rarely heals within seconds: one retry,
                # not the whole backoff, so an unreachable API fails within about a second.
                refused = (
                    isinstance(e, aiohttp.ClientConnectorError) and attempt >= CONNECT_ATTEMPTS
                )
                if call.method != "GET" or attempt == attempts or refused:
                    raise failure from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            if 200 <= status < 300:
                return _decode(raw)
            # Custify's text goes into the error as is: mask the key if it quotes it back.
            shown = scrubber(frozenset({self.connection.api_key})).bytes(raw)
            failure = error_for(status, shown, call.where, retry_after)
            if not isinstance(failure, RateLimited | ServerError) or attempt == attempts:
                raise failure
            if isinstance(failure, RateLimited):
                self.limiter.throttled_by_server(retry_after)
            else:
                await asyncio.sleep(
                    retry_after if retry_after is not None else self._backoff(attempt)
                )
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff(self, attempt: int) -> float:
        return float(min(MAX_BACKOFF_S, self.connection.backoff_s * 2 ** (attempt - 1)))

    async def _send(self, call: Call) -> tuple[int, bytes, float | None]:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"User-Agent": "csroute"})
        data: Any = None
        if call.body is not None:
            data = _encoder.encode(call.body)
        elif call.upload is not None:
            data = aiohttp.FormData()
            up = call.upload
            data.add_field("file", up.content, filename=up.filename, content_type=up.content_type)
            for name, value in up.fields.items():
                data.add_field(name, value)
        headers = self.headers(call)
        if call.upload is not None:
            del headers["Content-Type"]  # aiohttp sets it, with the boundary
        async with self._session.request(
            call.method,
            self.base_url + call.path,
            params=dict(call.params) or None,
            headers=headers,
            data=data,
            timeout=aiohttp.ClientTimeout(total=self.connection.timeout_s),
        ) as response:
            raw = await response.read()
            return response.status, raw, _retry_after(response.headers.get("Retry-After"))

    async def pages(
        self, call: Call, key: str, per_page: int, pace: Pace | None = None
    ) -> AsyncIterator[Record]:
        """Every record of a listing, page by page (``page``/``itemsPerPage``), until a page is
        empty, ``page * itemsPerPage >= total``, or (with no total) a page comes back short.
        ``pace`` is awaited before each page: a caller's own budget on top of the key's."""
        page = 1
        while True:
            if pace is not None:
                await pace()
            params = {**call.params, "page": str(page), "itemsPerPage": str(per_page)}
            found, total = items(await self.request(replace(call, params=params)), key)
            for record in found:
                yield record
            if not found or (len(found) < per_page and total is None):
                return
            if total is not None and page * per_page >= total:
                return
            page += 1


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw.decode(errors="replace")
