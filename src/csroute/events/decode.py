"""Turning a request body into events: size caps, gzip, JSON, nesting depth.

Everything here is built so that hostile input costs at most what the limits allow:

* the body is capped at ``max_request_bytes`` as it arrives, compressed, and again as it is
  decompressed: gzip is inflated incrementally with an output cap, so a gzip bomb stops being
  expanded one byte past the limit (413);
* nesting depth is checked without walking deep structures: an event cannot be nested deeper
  than it has ``{`` and ``[`` bytes, so counting them (``bytes.count``, in C) clears almost
  every event at once; only an event with more brackets than ``max_depth`` is walked, and the
  walk stops at ``max_depth``. Bodies nested beyond msgspec's own recursion limit (about a
  thousand levels) raise ``RecursionError`` inside the decoder, reported as the same 400;
* a batch is first split into its events without decoding them (``msgspec.Raw``), so each
  event's size is its exact byte length and one bad event rejects only itself. Events are
  then decoded one at a time as they are validated (``decode_item``), so a batch never has
  all its events in memory as Python objects.

Depth counts the event object as level 1; ``max_depth`` applies to each event, whether sent
alone or in a batch.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import msgspec

from csroute.events.errors import Rejection, RequestError, field_path
from csroute.events.limits import Limits
from csroute.events.timestamps import parse_ms

_decode_any = msgspec.json.Decoder().decode
_decode_fields = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_decode_list = msgspec.json.Decoder(list[msgspec.Raw]).decode


@dataclass(slots=True)
class Envelope:
    """A decoded batch: its events as their JSON (``msgspec.Raw``, for ``decode_item`` to
    decode one at a time) and the batch-level fields."""

    items: list[msgspec.Raw]
    limits: Limits
    write_key: str | None = None
    sent_at: str | None = None  # already checked to be ISO-8601
    context: dict[str, Any] | None = None  # defaults for events without their own
    integrations: dict[str, Any] | None = None


class BodyReader:
    """Collects a request body chunk by chunk, inflating gzip, refusing it past the limit."""

    __slots__ = ("_chunks", "_inflater", "_limit", "_received", "_size")

    def __init__(self, limit: int, gzip: bool) -> None:
        self._limit = limit
        self._received = 0  # bytes as sent (compressed, if gzip)
        self._size = 0  # bytes of JSON
        self._chunks: list[bytes] = []
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None

    def feed(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self._limit:
            raise too_large(self._limit)
        if self._inflater is not None:
            try:
                # Never ask for more than one byte past the limit: a bomb is never expanded.
                chunk = self._inflater.decompress(chunk, self._limit - self._size + 1)
            except zlib.error:
                raise RequestError(400, "", "gzip", "the body is not valid gzip data") from None
        self._size += len(chunk)
        if self._size > self._limit:
            raise too_large(self._limit)
        if chunk:
            self._chunks.append(chunk)

    def finish(self) -> bytes:
        inflater = self._inflater
        if inflater is not None and (not inflater.eof or inflater.unused_data):
            raise RequestError(
                400, "", "gzip", "the gzip data is truncated or followed by trailing bytes"
            )
        chunks = self._chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_event(body: bytes, limits: Limits) -> tuple[dict[str, Any], str | None]:
    """The event of a single-event request and the ``writeKey`` it carried (taken out of it);
    raise ``RequestError``."""
    if not body:
        raise _empty()
    if len(body) > limits.max_event_bytes:
        raise RequestError(
            413, "", "max_event_bytes", f"the event exceeds {limits.max_event_bytes} bytes"
        )
    try:
        event = _decode_any(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as e:
        raise _malformed(e, limits.max_depth) from None
    if type(event) is not dict:
        raise RequestError(400, "", "object", "the body must be a JSON object (one event)")
    if _too_deep(body, event, limits.max_depth):
        raise _nested(limits.max_depth, "")
    return event, _write_key(event.pop("writeKey", None))


def parse_batch(body: bytes, limits: Limits) -> Envelope:
    """Split a /v1/batch body into its events and batch-level fields; raise ``RequestError``."""
    if not body:
        raise _empty()
    try:
        fields = _decode_fields(body)
    except msgspec.ValidationError:
        raise RequestError(400, "", "object", "the body must be a JSON object") from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as e:
        raise _malformed(e, limits.max_depth) from None
    raw_batch = fields.get("batch")
    if raw_batch is None:
        raise RequestError(400, "batch", "required", "batch (an array of events) is required")
    try:
        raws = _decode_list(raw_batch)
    except msgspec.ValidationError:
        raise RequestError(400, "batch", "type", "batch must be an array of events") from None
    if not raws:
        raise RequestError(400, "batch", "required", "batch is empty")
    if len(raws) > limits.max_batch_events:
        raise RequestError(
            413,
            "batch",
            "max_batch_events",
            f"a batch holds at most {limits.max_batch_events} events (got {len(raws)})",
        )
    envelope = Envelope(raws, limits)
    if "writeKey" in fields:
        envelope.write_key = _write_key(_decode_field(fields["writeKey"], "writeKey"))
    if "sentAt" in fields:
        sent_at = _decode_field(fields["sentAt"], "sentAt")
        if sent_at is not None and (type(sent_at) is not str or parse_ms(sent_at) is None):
            raise RequestError(400, "sentAt", "iso8601", "sentAt must be an ISO-8601 date-time")
        envelope.sent_at = sent_at
    envelope.context = _defaults(fields, "context", limits)
    envelope.integrations = _defaults(fields, "integrations", limits)
    return envelope


def decode_item(index: int, raw: msgspec.Raw, limits: Limits) -> Any:
    """Event ``index`` of a batch, decoded, or the Rejection saying why it cannot be."""
    if len(raw) > limits.max_event_bytes:
        return Rejection(
            field_path(index, ""),
            "max_event_bytes",
            f"the event exceeds {limits.max_event_bytes} bytes",
            index,
        )
    data = bytes(raw)
    try:
        event = _decode_any(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:  # invalid UTF-8 is found only here
        error = _malformed(e, limits.max_depth).rejection
        return Rejection(field_path(index, ""), error.rule, error.message, index)
    if _too_deep(data, event, limits.max_depth):
        error = _nested(limits.max_depth, field_path(index, "")).rejection
        return Rejection(error.field, error.rule, error.message, index)
    return event


def _defaults(fields: dict[str, msgspec.Raw], name: str, limits: Limits) -> dict[str, Any] | None:
    """Batch-level ``context`` / ``integrations``: defaults for events that lack their own."""
    raw = fields.get(name)
    if raw is None:
        return None
    data = bytes(raw)
    value = _decode_field(data, name)
    if value is None:
        return None
    if type(value) is not dict:
        raise RequestError(400, name, "type", f"{name} must be a JSON object")
    # The object becomes a field of each event, one level below the event itself.
    if _too_deep(data, value, limits.max_depth - 1):
        raise _nested(limits.max_depth, name)
    return value


def _decode_field(raw: msgspec.Raw | bytes, name: str) -> Any:
    """A batch-level field, decoded: splitting the body into ``msgspec.Raw`` values checked
    the JSON's structure but not the UTF-8 of their strings, which is found only here."""
    try:
        return _decode_any(raw)
    except UnicodeDecodeError:
        raise _not_utf8(name) from None


def _too_deep(data: bytes, value: Any, max_depth: int) -> bool:
    """Whether ``value`` (decoded from ``data``) nests deeper than ``max_depth`` levels."""
    if data.count(b"{") + data.count(b"[") <= max_depth:
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


def _empty() -> RequestError:
    return RequestError(400, "", "json", "the body is empty (expected a JSON object)")


def _write_key(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise RequestError(400, "writeKey", "type", "writeKey must be a string")


def _malformed(error: Exception, max_depth: int) -> RequestError:
    if isinstance(error, RecursionError):
        return _nested(max_depth, "")
    if isinstance(error, UnicodeDecodeError):
        return _not_utf8("")
    return RequestError(400, "", "json", f"invalid JSON: {error}")


def _not_utf8(field: str) -> RequestError:
    return RequestError(400, field, "utf8", f"{field or 'the JSON'} is not valid UTF-8")


def _nested(max_depth: int, field: str) -> RequestError:
    return RequestError(
        400, field, "max_depth", f"the JSON is nested too deeply (at most {max_depth} levels)"
    )


def too_large(limit: int) -> RequestError:
    return RequestError(413, "", "max_request_bytes", f"the request body exceeds {limit} bytes")
