"""Facts about Custify's API, written once: the client, the pipeline's Custify destination,
the sandbox and the configuration checks all read them here (docs/custify-api.md).

Nothing here imports the rest of csroute, so the sandbox may use it too.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import msgspec

BASE_URL: Final = "https://api.custify.com"
"""The API of accounts on the main cluster; regional clusters have their own URL."""

RATE_LIMIT_REQUESTS: Final = 100
RATE_LIMIT_WINDOW_S: Final = 10
"""Custify's default budget: 100 requests per 10 seconds per API key; over it, 429."""

MAX_SYNCHRONOUS_JOBS: Final = 3
"""Custify runs at most this many jobs in a synchronous ``POST /batch``."""
MAX_ASYNCHRONOUS_JOBS: Final = 100
"""And at most this many in an asynchronous one (the default)."""
BATCH_RETENTION_S: Final = 6 * 3600.0
"""How long Custify keeps a batch's job id after its last job finished."""

MAX_KEY_LENGTH: Final = 190
"""Characters of a custom attribute's or metadata key."""
MAX_STRING_LENGTH: Final = 255
"""Characters of a string field or custom attribute value."""
MAX_EVENT_STRING_LENGTH: Final = 100
"""Characters of an event's ``name`` and ``deduplication_id``."""
MAX_CUSTOM_FIELDS: Final = 250
"""Custom attributes one person or company may hold."""
MAX_METADATA_KEYS: Final = 50
MAX_METADATA_CHARS: Final = 10_000
"""An event's metadata: flat, at most 50 keys and 10,000 characters once serialised."""

MAX_MESSAGE_CHARS: Final = 300
"""Characters of an error body kept when it has no recognised message."""


def rate_limit_key(api_key: str, base_url: str) -> str:
    """The limiter key of one Custify API key: Custify counts requests per key, so every
    destination and client that uses the key shares one budget under this key."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return f"custify:{digest}@{base_url.rstrip('/')}"


def error_message(body: Any) -> str:
    """Custify's error text: ``error.message``, ``message``, ``error`` or ``msg``.

    Custify documents no error body, so this reads every shape clients are known to meet.
    ``body`` is the raw bytes or the decoded JSON; "" when it says nothing.
    """
    if isinstance(body, bytes):
        raw: bytes = body
        try:
            body = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):  # not JSON, or not even UTF-8
            return raw.decode(errors="replace").strip()[:MAX_MESSAGE_CHARS]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("message", "error", "msg"):
            if body.get(key):
                return str(body[key])
    if body in (None, "", {}, []):
        return ""
    return msgspec.json.encode(body).decode()[:MAX_MESSAGE_CHARS]
