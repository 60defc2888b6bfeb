"""CORS for the browser SDKs: which origins may send, and the headers that let them.

Browsers send ``Origin`` with every cross-origin request and server-side SDKs never do, so
none of this runs for server-side traffic. The answer echoes the ``Origin`` with
``Access-Control-Allow-Credentials: true`` rather than ``*``: a page whose SDK sends cookies
(``credentials: 'include'``, ``withCredentials``) is refused by the browser on ``*``, and the
server cannot tell from a request whether the page will read it with credentials.

A preflight carries no write key, so it cannot be checked against one source's
``allowed_origins``: it passes when any enabled source would take the origin, and the request
that follows is checked against its own source's list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from csroute.config import SourceConfig
from csroute.events.errors import RequestError

Headers = list[tuple[bytes, bytes]]

# Longest Access-Control-Request-Headers echoed: the SDKs ask for well under 200 bytes.
MAX_REQUEST_HEADERS: Final = 1024
_ALLOW_CREDENTIALS: Final = (b"access-control-allow-credentials", b"true")
_VARY: Final = (b"vary", b"Origin")
_PREFLIGHT_VARY: Final = (b"vary", b"Origin, Access-Control-Request-Headers")
_METHODS: Final = (b"access-control-allow-methods", b"GET, HEAD, POST, OPTIONS")
_MAX_AGE: Final = (b"access-control-max-age", b"86400")
# When a preflight does not say which headers it wants (non-browser clients).
_DEFAULT_HEADERS: Final = b"authorization, content-type, content-encoding, anonymousid, sentat"


def normalized(origin: str) -> bytes:
    """An origin as browsers send it: lower case, no trailing slash."""
    return origin.strip().rstrip("/").lower().encode()


def response_headers(origin: bytes) -> Headers:
    """What a response to a browser's request carries."""
    return [(b"access-control-allow-origin", origin), _ALLOW_CREDENTIALS, _VARY]


class OriginPolicy:
    """Each source's ``allowed_origins`` (none: any origin)."""

    def __init__(self, sources: Sequence[SourceConfig]) -> None:
        self._allowed = {
            s.name: frozenset(normalized(o) for o in s.allowed_origins)
            for s in sources
            if s.allowed_origins
        }
        enabled = [s for s in sources if s.enabled]
        self._any = any(s.name not in self._allowed for s in enabled)
        self._union = frozenset().union(*(self._allowed.get(s.name, ()) for s in enabled))

    def check(self, source: str, origin: bytes) -> None:
        """Raise ``RequestError`` (403) when ``source`` does not take requests from ``origin``."""
        allowed = self._allowed.get(source)
        if allowed is not None and origin.lower() not in allowed:
            raise _refused_origin()

    def preflight(self, headers: dict[bytes, bytes]) -> Headers:
        """The headers of a 204 answering a preflight; raise ``RequestError`` to refuse it."""
        origin = headers.get(b"origin")
        if origin is None:
            answer: Headers = [(b"access-control-allow-origin", b"*")]
        else:
            if not self._any and origin.lower() not in self._union:
                raise _refused_origin()
            answer = [(b"access-control-allow-origin", origin), _ALLOW_CREDENTIALS]
        asked = headers.get(b"access-control-request-headers")
        if asked is not None and len(asked) > MAX_REQUEST_HEADERS:
            raise RequestError(
                400,
                "Access-Control-Request-Headers",
                "cors_headers",
                f"the preflight asks for more than {MAX_REQUEST_HEADERS} bytes of headers",
            )
        answer += [
            _METHODS,
            (b"access-control-allow-headers", asked or _DEFAULT_HEADERS),
            _MAX_AGE,
            _PREFLIGHT_VARY,
        ]
        # Chromium's Private Network Access: a public page calling csroute on a private address.
        if headers.get(b"access-control-request-private-network") == b"true":
            answer.append((b"access-control-allow-private-network", b"true"))
        return answer


def _refused_origin() -> RequestError:
    return RequestError(
        403, "Origin", "cors_origin", "this origin is not in the source's allowed_origins"
    )
