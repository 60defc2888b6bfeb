"""The ingestion gateway: a raw ASGI app serving the Segment/RudderStack tracking API.

No framework: this is the hot path, and a framework's routing, request objects and middleware
cost more per request than everything the gateway itself does. The app reads headers once,
authenticates from a cache, hands the body to ``csroute.events`` (decode, validate, stamp) and
answers only after ``store.append`` returns, i.e. after the events are durably committed
(the store shares commits between concurrent requests, so durable acks stay cheap).

Statuses, and why (the official SDKs retry 429 and 5xx and drop the batch on other 4xx):

* 200 ``{"success": true, "accepted": N}``, plus ``"rejected": [...]`` when some events of a
  batch broke a rule. The accepted ones are stored; the rejected ones would fail again on a
  retry, so a 4xx for the whole batch would only make the SDK drop the good events with them;
* 400 malformed request, or every event of it rejected; 401 missing or unknown write key;
  404 disabled source (or unknown path); 405 not POST; 413 too large; 415 content type or
  encoding not supported; 503 the store could not commit: nothing is acknowledged, and the
  SDK's retry is what we want.

Error bodies name the field and the rule: ``{"error", "field", "rule", "code", "message"}``;
``code`` and ``message`` repeat ``rule`` and ``error`` because they are what the official SDKs
read to report a failure (rudder-sdk-python even retries a 4xx whose body lacks them).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Final

import msgspec

from csroute.capture.live import Capture
from csroute.config import Limits, SourceConfig
from csroute.events.decode import BodyReader, parse_batch, parse_event, too_large
from csroute.events.errors import Rejection, RequestError
from csroute.events.validate import accept_batch, accept_event
from csroute.gateway.metrics import GatewayMetrics
from csroute.store.base import Store, StoreUnavailable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("csroute.gateway")

# path -> the event type its events have, or "" for /v1/batch (and /v1/import): any type
_ROUTES: Final = {
    f"/v1/{name}{slash}": "" if name in ("batch", "import") else name
    for name in ("identify", "track", "page", "screen", "group", "alias", "batch", "import")
    for slash in ("", "/")
}
# text/plain: browsers' sendBeacon cannot set application/json; no header: curl-style clients.
_CONTENT_TYPES: Final = frozenset({b"application/json", b"text/plain", b""})
_CORS: Final = [(b"access-control-allow-origin", b"*")]
_PREFLIGHT: Final = [
    *_CORS,
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (
        b"access-control-allow-headers",
        b"authorization, content-type, content-encoding, anonymousid",
    ),
    (b"access-control-max-age", b"86400"),
]
_CLOSE: Final = (b"connection", b"close")
_NO_HEADERS: Final[list[tuple[bytes, bytes]]] = []
_JSON: Final = (b"content-type", b"application/json")
_NONE_REJECTED: Final[list[Rejection]] = []
_AUTH_CACHE_SIZE: Final = 1024
_DRAIN_FACTOR: Final = 4
_encode = msgspec.json.Encoder().encode


class _Disconnected(Exception):
    """The client went away before sending the whole body; there is nobody to answer."""


class GatewayApp:
    """ASGI app for ``/v1/*``; every other path (and lifespan) goes to ``fallback``.

    ``sources`` are matched by write key; a disabled source's key gets 404 rather than 401,
    so its owner can tell "turned off" from "wrong key".
    """

    def __init__(
        self,
        store: Store,
        sources: Sequence[SourceConfig],
        limits: Limits,
        metrics: GatewayMetrics | None = None,
        fallback: ASGIApp | None = None,
        capture: Capture | None = None,
    ) -> None:
        self._store = store
        self._capture = capture or Capture()
        self._limits = limits
        self._metrics = metrics
        self._fallback = fallback
        self._sources = {s.write_key: s for s in sources}
        self._auth_cache: dict[bytes, SourceConfig] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self._fallback is not None:
                await self._fallback(scope, receive, send)
            elif scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        event_type = _ROUTES.get(scope["path"])
        if event_type is None:
            if self._fallback is not None and not scope["path"].startswith("/v1/"):
                await self._fallback(scope, receive, send)
            else:
                await _error(send, RequestError(404, "", "not_found", "no such endpoint"), _CORS)
            return
        method = scope["method"]
        if method == "POST":
            await self._ingest(scope, receive, send, event_type)
        elif method == "OPTIONS":
            await _respond(send, 204, b"", _PREFLIGHT)
        else:
            error = RequestError(405, "", "method", f"{method} is not allowed, use POST")
            await _error(send, error, [*_CORS, (b"allow", b"POST, OPTIONS")])

    async def _ingest(self, scope: Scope, receive: Receive, send: Send, event_type: str) -> None:
        """Answer one tracking request; the events are committed before the 200 is sent."""
        received_ms = time.time_ns() // 1_000_000
        source: SourceConfig | None = None
        unread = -1  # bytes of body left unread when refusing; -1: unknown (chunked)
        headers = dict(scope["headers"])  # a repeated header: the last one counts
        # Only browsers read CORS headers, and they send Origin with every cross-origin
        # request: server-side SDKs get one response header less to write.
        cors = _CORS if b"origin" in headers else _NO_HEADERS
        try:
            encoding = headers.get(b"content-encoding")
            gzip = encoding is not None and _is_gzip(encoding)
            content_type = headers.get(b"content-type")
            if content_type is not None and content_type != b"application/json":
                _check_content_type(content_type)
            authorization = headers.get(b"authorization")
            length = headers.get(b"content-length")
            if authorization is not None:
                source = self._authenticate(authorization)
            limit = self._limits.max_request_bytes
            if length is not None and length.isdigit():
                unread = int(length)
                if unread > limit:
                    raise too_large(limit)
            body = await _read_body(receive, limit, gzip)
            unread = 0
            if not event_type:  # /v1/batch, /v1/import
                envelope = parse_batch(body, self._limits)
                if source is None:
                    source = self._source(envelope.write_key)
                events, rejected = accept_batch(envelope, source.name, received_ms)
                if rejected:
                    self._rejected(source.name, rejected)
                    if not events:
                        raise _all_rejected(rejected)
            else:
                event, write_key = parse_event(body, self._limits)
                if source is None:
                    source = self._source(write_key)
                events = [accept_event(event, event_type, source.name, received_ms)]
                rejected = _NONE_REJECTED
            try:
                await self._store.append(events)
            except StoreUnavailable as e:
                log.error("store unavailable: %d events refused with 503 (%s)", len(events), e)
                raise RequestError(
                    503, "", "store_unavailable", "the event store cannot commit now, retry later"
                ) from None
        except RequestError as e:
            self._refused("" if source is None else source.name, e)
            # uvicorn discards a body the app did not read, keeping the connection; closing
            # instead would reset it under a client still sending, which then sees no answer.
            # Only a body too long (or of unknown length) to be worth discarding ends it.
            drain = 0 <= unread <= _DRAIN_FACTOR * self._limits.max_request_bytes
            await _error(send, e, cors if drain else [*cors, _CLOSE])
            return
        except _Disconnected:
            return
        if self._metrics is not None:
            self._metrics.accepted(source.name, len(events))
        if self._capture.watching:
            self._capture.received(source.name, events)
        await _respond(send, 200, _accepted_body(len(events), rejected), cors)

    def _authenticate(self, authorization: bytes) -> SourceConfig:
        """The source of a ``Basic base64(writeKey:)`` header (decoded once, then cached)."""
        source = self._auth_cache.get(authorization)
        if source is None:
            source = self._source(_basic_username(authorization))
            if len(self._auth_cache) >= _AUTH_CACHE_SIZE:
                self._auth_cache.clear()  # many distinct valid headers: rare, start over
            self._auth_cache[authorization] = source
        return source

    def _source(self, write_key: str | None) -> SourceConfig:
        if not write_key:
            raise RequestError(
                401, "writeKey", "write_key", "a write key is required (HTTP Basic username)"
            )
        source = self._sources.get(write_key)
        if source is None:
            raise RequestError(401, "writeKey", "write_key", "unknown write key")
        if not source.enabled:
            raise RequestError(404, "writeKey", "source_disabled", "this source is disabled")
        return source

    def _rejected(self, source: str, rejected: list[Rejection]) -> None:
        first = rejected[0]
        # The message names the field already ("timestamp \"yesterday\" is not ..."); the
        # field and rule follow as labelled keys, never run into the sentence.
        log.info(
            "source %s: %d events rejected; first: %s (field=%s rule=%s)",
            source,
            len(rejected),
            first.message,
            first.field,
            first.rule,
        )
        if self._metrics is not None:
            for r in rejected:
                self._metrics.rejected(source, r.rule, 1)

    def _refused(self, source: str, error: RequestError) -> None:
        r = error.rejection
        log.info(
            "request refused with %d: %s (field=%s rule=%s)",
            error.status,
            r.message,
            r.field,
            r.rule,
        )
        if self._metrics is not None and not error.rejected:  # those were counted per event
            self._metrics.rejected(source, r.rule, 1)


def _is_gzip(encoding: bytes) -> bool:
    encoding = encoding.strip().lower()
    if encoding == b"gzip":
        return True
    if encoding in (b"", b"identity"):
        return False
    raise RequestError(
        415, "", "content_encoding", "unsupported Content-Encoding (use gzip or none)"
    )


def _check_content_type(content_type: bytes) -> None:
    if content_type.split(b";", 1)[0].strip().lower() not in _CONTENT_TYPES:
        raise RequestError(
            415, "", "content_type", "unsupported Content-Type (use application/json)"
        )


def _basic_username(authorization: bytes) -> str | None:
    scheme, _, credentials = authorization.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0]


async def _read_body(receive: Receive, limit: int, gzip: bool) -> bytes:
    """The body as it is when it came in one message (the usual case), else collected and
    checked chunk by chunk."""
    reader: BodyReader | None = None
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if reader is None:
            if not gzip and not more:
                if len(body) > limit:
                    raise too_large(limit)
                return body
            reader = BodyReader(limit, gzip)
        reader.feed(body)
        if not more:
            return reader.finish()


def _all_rejected(rejected: list[Rejection]) -> RequestError:
    first = rejected[0]
    return RequestError(
        400, first.field, first.rule, f"no event accepted; first: {first.message}", rejected
    )


def _accepted_body(accepted: int, rejected: list[Rejection]) -> bytes:
    if not rejected:
        return b'{"success":true,"accepted":%d}' % accepted
    return _encode({"success": True, "accepted": accepted, "rejected": _listed(rejected)})


def _listed(rejected: Sequence[Rejection]) -> list[dict[str, Any]]:
    return [
        {"index": r.index, "field": r.field, "rule": r.rule, "error": r.message} for r in rejected
    ]


async def _error(send: Send, error: RequestError, headers: list[tuple[bytes, bytes]]) -> None:
    r = error.rejection
    body: dict[str, Any] = {
        "error": r.message,
        "field": r.field,
        "rule": r.rule,
        "code": r.rule,
        "message": r.message,
    }
    if error.rejected:
        body["accepted"] = 0
        body["rejected"] = _listed(error.rejected)
    await _respond(send, error.status, _encode(body), headers)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", b"%d" % len(body)), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Without a fallback app there is nothing to start or stop: just acknowledge."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
