"""RudderStack's pixel endpoints: an event carried in the query string of an image request.

``GET /pixel/v1/track?writeKey=K&anonymousId=A&event=Signed%20Up&properties.plan=pro`` works
where no script runs (e-mails, ``<noscript>``). As in RudderStack, each parameter sets the
field its dotted name points to (``properties.plan`` sets ``{"properties": {"plan": ...}}``),
values are strings, ``channel`` defaults to ``web``, and a quoted ``anonymousId`` loses its
quotes. The event then goes through the same checks as any other (size, depth, rules).
"""

from __future__ import annotations

import base64
from typing import Any, Final
from urllib.parse import parse_qsl

import msgspec

from csroute.events.errors import RequestError

# The smallest transparent GIF: what an <img> expects back.
GIF: Final = base64.b64decode(b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_encode = msgspec.json.Encoder().encode


def pixel_event(query: bytes, max_bytes: int, max_depth: int) -> bytes:
    """The event's JSON (``writeKey`` left in, for the gateway to take out as for any event)."""
    if len(query) > max_bytes:
        raise RequestError(
            413, "", "max_event_bytes", f"the query string exceeds {max_bytes} bytes"
        )
    try:
        pairs = parse_qsl(query.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise RequestError(400, "", "query", "the query string is not UTF-8") from None
    event: dict[str, Any] = {"channel": "web"}
    for key, value in pairs:
        if key == "anonymousId" and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if key.count(".") >= max_depth:  # the event is level 1, the top-level field level 2
            raise RequestError(
                400, key[:100], "max_depth", f"nested too deeply (at most {max_depth} levels)"
            )
        _set(event, key, value)
    return _encode(event)


def _set(event: dict[str, Any], path: str, value: str) -> None:
    *parents, name = path.split(".")
    node = event
    for part in parents:
        child = node.get(part)
        if type(child) is not dict:
            child = node[part] = {}
        node = child
    node[name] = value
