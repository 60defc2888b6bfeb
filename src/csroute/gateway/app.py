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
  403 an origin the source does not allow; 404 disabled source (or unknown path); 405 wrong
  method; 408 the body did not arrive in time (the connection is closed); 413 too large; 415
  encoding not supported; 503 the store could not commit: nothing is acknowledged, and the
  SDK's retry is what we want.

``Content-Type`` is never looked at: the body decides. Browser SDKs label JSON ``text/plain``
(a "simple" request needs no preflight, and ``sendBeacon`` can send nothing else), and
rudder-sdk-node labels its gzip body as a form; a body that is not the JSON expected is a 400.

Error bodies name the field and the rule: ``{"error", "field", "rule", "code", "message"}``;
``code`` and ``message`` repeat ``rule`` and ``error`` because they are what the official SDKs
read to report a failure (rudder-sdk-python even retries a 4xx whose body lacks them).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qs

import msgspec

from csroute.capture.live import Capture
from csroute.config import SourceConfig
from csroute.events.decode import BodyReader, parse_batch, parse_event, too_large
from csroute.events.errors import Rejection, RequestError, body_timeout
from csroute.events.limits import Limits
from csroute.events.validate import accept_batch, accept_event
from csroute.gateway.cors import OriginPolicy, response_headers
from csroute.gateway.deadlines import BodyDeadlines
from csroute.gateway.metrics import GatewayMetrics
from csroute.gateway.pixel import GIF, pixel_event
from csroute.gateway.refusals import Refusals
from csroute.gateway.sdk_config import rudderstack_source_config, segment_settings
from csroute.store.base import Store, StoreUnavailable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("csroute.gateway")

_TYPES: Final = ("identify", "track", "page", "screen", "group", "alias")
# path -> the event type its events have, or "" for a batch (any type)
_ROUTES: Final = {
    **{
        f"/v1/{name}{slash}": "" if name in ("batch", "import") else name
        for name in (*_TYPES, "batch", "import")
        for slash in ("", "/")
    },
    # @segment/analytics-next: the type's first letter; /v1/b for its batching delivery
    **{f"/v1/{name[0]}": name for name in _TYPES},
    "/v1/b": "",
    # @rudderstack/analytics-js with useBeacon: the write key only in the query string
    "/beacon/v1/batch": "",
    "/beacon/v1/batch/": "",
}
_POST: Final = ("POST",)
_GET: Final = ("GET", "HEAD")
# Paths that are not event ingestion: path -> (handler name, methods it takes)
_SERVICES: Final = {
    "/v1/m": ("sink", _POST),  # analytics-next's own metrics
    "/rsaMetrics": ("sink", _POST),  # analytics-js v3's own metrics
    "/pixel/v1/track": ("pixel", ("GET",)),
    "/pixel/v1/page": ("pixel", ("GET",)),
    "/sourceConfig": ("source_config", _GET),  # analytics-js v3's configUrl
    "/sourceConfig/": ("source_config", _GET),
}
_SETTINGS: Final = ("/v1/projects/", "/settings")  # analytics-next's cdnURL: prefix, suffix
# Paths under these prefixes are the gateway's: unknown ones are refused and counted here.
_OWN_PREFIXES: Final = ("/v1/", "/beacon/", "/pixel/")
_HOST: Final = re.compile(rb"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_CLOSE: Final = (b"connection", b"close")
_NO_HEADERS: Final[list[tuple[bytes, bytes]]] = []
_JSON: Final = (b"content-type", b"application/json")
_GIF: Final = (b"content-type", b"image/gif")
_NO_STORE: Final = (b"cache-control", b"no-store")
_SUCCESS: Final = b'{"success":true}'
_NONE_REJECTED: Final[list[Rejection]] = []
_AUTH_CACHE_SIZE: Final = 1024
_DRAIN_FACTOR: Final = 4
_encode = msgspec.json.Encoder().encode


class _Disconnected(Exception):
    """The client went away before sending the whole body; there is nobody to answer."""


class GatewayApp:
    """ASGI app for the tracking API's paths; every other path (and lifespan) goes to
    ``fallback``.

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
        refusals: Refusals | None = None,
    ) -> None:
        self._store = store
        self._capture = capture or Capture()
        self._limits = limits
        self._metrics = metrics
        self._fallback = fallback
        self._sources = {s.write_key: s for s in sources}
        self._deadlines = BodyDeadlines(limits.body_timeout_s)
        self._auth_cache: dict[bytes, SourceConfig] = {}
        self._origins = OriginPolicy(sources)
        self._refusals = refusals or Refusals(metrics)
        self._services: dict[str, Callable[[Scope, Send], Awaitable[None]]] = {
            "sink": self._sink,
            "pixel": self._pixel,
            "source_config": self._source_config,
            "settings": self._settings,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self._fallback is not None:
                await self._fallback(scope, receive, send)
            elif scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        path = scope["path"]
        event_type = _ROUTES.get(path)
        method = scope["method"]
        if event_type is not None:
            if method == "POST":
                await self._ingest(scope, receive, send, event_type)
            elif method == "OPTIONS":
                await self._preflight(scope, send)
            else:
                await self._wrong_method(scope, send, _POST)
            return
        service = _SERVICES.get(path)
        if service is None and path.startswith(_SETTINGS[0]) and path.endswith(_SETTINGS[1]):
            service = ("settings", _GET)
        if service is None:
            if self._fallback is not None and not path.startswith(_OWN_PREFIXES):
                await self._fallback(scope, receive, send)
            else:
                error = RequestError(404, "", "not_found", "no such endpoint")
                await self._refuse(scope, send, error, _cors(dict(scope["headers"])))
            return
        name, methods = service
        if method == "OPTIONS":
            await self._preflight(scope, send)
        elif method in methods:
            await self._services[name](scope, send)
        else:
            await self._wrong_method(scope, send, methods)

    async def _ingest(self, scope: Scope, receive: Receive, send: Send, event_type: str) -> None:
        """Answer one tracking request; the events are committed before the 200 is sent."""
        received_ms = time.time_ns() // 1_000_000
        source: SourceConfig | None = None
        unread = -1  # bytes of body left unread when refusing; -1: unknown (chunked)
        headers = dict(scope["headers"])  # a repeated header: the last one counts
        # Only browsers read CORS headers, and they send Origin with every cross-origin
        # request: server-side SDKs get no CORS work and no extra response header.
        origin = headers.get(b"origin")
        cors = _NO_HEADERS if origin is None else response_headers(origin)
        try:
            encoding = headers.get(b"content-encoding")
            gzip = encoding is not None and _is_gzip(encoding)
            # Content-Type is not looked at: the body decides (the SDKs label JSON as
            # text/plain to avoid a preflight, rudder-sdk-node's gzip as a form).
            authorization = headers.get(b"authorization")
            length = headers.get(b"content-length")
            if authorization is not None:
                source = self._authenticate(authorization)
            limit = self._limits.max_request_bytes
            if length is not None and length.isdigit():
                unread = int(length)
                if unread > limit:
                    raise too_large(limit)
            reading = self._deadlines.begin()
            try:
                body = await _read_body(receive, limit, gzip)
            except asyncio.CancelledError:
                if not self._deadlines.expired(reading):
                    raise
                unread = -1  # the rest may still come: close rather than wait for it
                raise body_timeout(self._limits.body_timeout_s) from None
            finally:
                self._deadlines.end(reading)
            unread = 0
            if not event_type:  # /v1/batch, /v1/import, /v1/b, /beacon/v1/batch
                envelope = parse_batch(body, self._limits)
                if source is None:
                    source = self._source(envelope.write_key or _query_write_key(scope))
                if origin is not None:
                    self._origins.check(source.name, origin)
                events, rejected = accept_batch(envelope, source.name, received_ms)
                if rejected:
                    self._rejected(source.name, rejected)
                    if not events:
                        raise _all_rejected(rejected)
            else:
                event, write_key = parse_event(body, self._limits)
                if source is None:
                    source = self._source(write_key or _query_write_key(scope))
                if origin is not None:
                    self._origins.check(source.name, origin)
                events = [accept_event(event, event_type, source.name, received_ms)]
                rejected = _NONE_REJECTED
            try:
                await self._store.append(events)
            except StoreUnavailable as e:
                raise _unavailable(e, len(events)) from None
        except RequestError as e:
            self._refused(scope, "" if source is None else source.name, e)
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

    async def _pixel(self, scope: Scope, send: Send) -> None:
        """``GET /pixel/v1/{track,page}``: one event from the query string; a GIF back."""
        received_ms = time.time_ns() // 1_000_000
        source: SourceConfig | None = None
        try:
            query = pixel_event(
                scope["query_string"], self._limits.max_event_bytes, self._limits.max_depth
            )
            event, write_key = parse_event(query, self._limits)
            source = self._source(write_key)
            event_type = scope["path"].rpartition("/")[2]
            new = accept_event(event, event_type, source.name, received_ms)
            try:
                await self._store.append([new])
            except StoreUnavailable as e:
                raise _unavailable(e, 1) from None
        except RequestError as e:
            self._refused(scope, "" if source is None else source.name, e)
            await _error(send, e, _NO_HEADERS)
            return
        if self._metrics is not None:
            self._metrics.accepted(source.name, 1)
        if self._capture.watching:
            self._capture.received(source.name, [new])
        await _respond(send, 200, GIF, [_NO_STORE], _GIF)

    async def _sink(self, scope: Scope, send: Send) -> None:
        """The SDKs' reports about themselves: answered, never stored (csroute turns them
        off in the configuration it serves; older pages may still send them)."""
        await _respond(send, 200, _SUCCESS, _cors(dict(scope["headers"])))

    async def _source_config(self, scope: Scope, send: Send) -> None:
        """What ``@rudderstack/analytics-js`` fetches from its ``configUrl``."""
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization")
        await self._sdk_config(
            scope,
            send,
            headers,
            _basic_username(authorization) if authorization else _query_write_key(scope),
            rudderstack_source_config,
        )

    async def _settings(self, scope: Scope, send: Send) -> None:
        """What ``@segment/analytics-next`` fetches from its ``cdnURL``."""
        headers = dict(scope["headers"])
        write_key = scope["path"][len(_SETTINGS[0]) : -len(_SETTINGS[1])]
        host = headers.get(b"host", b"")
        if not _HOST.fullmatch(host):  # it is written into the answer: only a plain host[:port]
            error = RequestError(400, "Host", "host", "the Host header is missing or invalid")
            await self._refuse(scope, send, error, _cors(headers))
            return
        scheme = scope["scheme"]  # uvicorn takes X-Forwarded-Proto from a trusted proxy
        await self._sdk_config(
            scope,
            send,
            headers,
            write_key,
            lambda source: segment_settings(source, scheme, host.decode()),
        )

    async def _sdk_config(
        self,
        scope: Scope,
        send: Send,
        headers: dict[bytes, bytes],
        write_key: str | None,
        body: Callable[[SourceConfig], bytes],
    ) -> None:
        origin = headers.get(b"origin")
        cors = _cors(headers)
        source: SourceConfig | None = None
        try:
            source = self._source(write_key)
            if origin is not None:
                self._origins.check(source.name, origin)
        except RequestError as e:
            self._refused(scope, "" if source is None else source.name, e)
            await _error(send, e, cors)
            return
        await _respond(send, 200, body(source), [*cors, _NO_STORE])

    async def _preflight(self, scope: Scope, send: Send) -> None:
        try:
            answer = self._origins.preflight(dict(scope["headers"]))
        except RequestError as e:
            await self._refuse(scope, send, e, _NO_HEADERS)  # the browser stops here
            return
        await _respond(send, 204, b"", answer)

    async def _wrong_method(self, scope: Scope, send: Send, allowed: tuple[str, ...]) -> None:
        method = scope["method"]
        error = RequestError(405, "", "method", f"{method} is not allowed here")
        allow = ", ".join((*allowed, "OPTIONS")).encode()
        headers = [*_cors(dict(scope["headers"])), (b"allow", allow)]
        await self._refuse(scope, send, error, headers)

    async def _refuse(
        self, scope: Scope, send: Send, error: RequestError, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Refuse a request that names no source (unknown path, method, preflight)."""
        self._refusals.refused("", scope["path"], error)
        await _error(send, error, headers)

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
                401,
                "writeKey",
                "write_key",
                "a write key is required (HTTP Basic username, or writeKey in the body or the"
                " query string)",
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

    def _refused(self, scope: Scope, source: str, error: RequestError) -> None:
        if self._metrics is not None and not error.rejected:  # those were counted per event
            self._metrics.rejected(source, error.rejection.rule, 1)
        self._refusals.refused(source, scope["path"], error)


def _unavailable(error: StoreUnavailable, events: int) -> RequestError:
    log.error("store unavailable: %d events refused with 503 (%s)", events, error)
    return RequestError(
        503, "", "store_unavailable", "the event store cannot commit now, retry later"
    )


def _cors(headers: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    origin = headers.get(b"origin")
    return _NO_HEADERS if origin is None else response_headers(origin)


def _query_write_key(scope: Scope) -> str | None:
    """``?writeKey=`` (RudderStack's beacon and pixel requests carry the key only there)."""
    query: bytes = scope.get("query_string", b"")
    if b"writeKey=" not in query:
        return None
    values = parse_qs(query.decode("utf-8", "replace")).get("writeKey")
    return values[0] if values else None


def _is_gzip(encoding: bytes) -> bool:
    encoding = encoding.strip().lower()
    if encoding == b"gzip":
        return True
    if encoding in (b"", b"identity"):
        return False
    raise RequestError(
        415, "", "content_encoding", "unsupported Content-Encoding (use gzip or none)"
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
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    content_type: tuple[bytes, bytes] = _JSON,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [content_type, (b"content-length", b"%d" % len(body)), *headers],
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
