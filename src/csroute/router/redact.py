"""Requests as they may be kept in dead letters and logs: with every secret masked."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from csroute.destinations.base import Request
from csroute.secrets import mask

ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def redact(request: Request, secrets: Collection[str]) -> dict[str, Any]:
    """``request.to_json()`` with secret header values masked.

    A header is secret when its name is a known credential header or its value contains one of
    the destination's secret settings (an API key can hide in a custom header).
    """
    shown = request.to_json()
    headers = shown["headers"]
    for name, value in headers.items():
        if name.lower() in ALWAYS_SECRET or any(s and s in value for s in secrets):
            scheme, _, credential = value.partition(" ")
            headers[name] = f"{scheme} {mask(credential)}" if credential else mask(value)
    return shown
