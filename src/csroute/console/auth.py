"""The console's session: a cookie holding ``nonce.HMAC(token, nonce)``, never the token.

Nothing is stored on the server: a cookie is valid while the admin token that signed it is the
configured one (changing the token logs everyone out). The CSRF token of a session is another
HMAC of its nonce, put in every form and checked on every POST, on top of SameSite=Strict.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

COOKIE = "csroute_console"


def _sign(token: str, purpose: str, nonce: str) -> str:
    return hmac.new(token.encode(), f"{purpose}:{nonce}".encode(), hashlib.sha256).hexdigest()


def new_session(token: str) -> str:
    nonce = secrets.token_hex(16)
    return f"{nonce}.{_sign(token, 'session', nonce)}"


def session_nonce(token: str, request: Request) -> str | None:
    """The nonce of the request's valid session cookie, else None."""
    nonce, _, mac = request.cookies.get(COOKIE, "").partition(".")
    if nonce and hmac.compare_digest(mac.encode(), _sign(token, "session", nonce).encode()):
        return nonce
    return None


def csrf_token(token: str, nonce: str) -> str:
    return _sign(token, "csrf", nonce)


def csrf_ok(token: str, nonce: str, given: str) -> bool:
    return hmac.compare_digest(given.encode(), csrf_token(token, nonce).encode())
