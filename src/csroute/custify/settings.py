"""The ``custify_connections:`` section of the configuration file: named Custify API
connections (e.g. production, staging) for ``csroute custify``, syncs, triggers and the Python
client (docs/custify-client.md).

Light to import (no client code), so ``csroute.config`` can name it for every command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from csroute.custify.api import BASE_URL, RATE_LIMIT_REQUESTS, RATE_LIMIT_WINDOW_S
from csroute.shape import Section


class CustifyConnectionConfig(Section):
    """One named Custify connection."""

    api_key: str
    base_url: str = BASE_URL
    """Accounts on regional clusters have their own API URL (shown in Custify's settings)."""
    rate_limit_requests: float = RATE_LIMIT_REQUESTS
    rate_limit_window_s: float = RATE_LIMIT_WINDOW_S
    timeout_s: float = 30.0
    max_attempts: int = 6
    """Tries per call when Custify answers 429 or 5xx (each waits as ``Retry-After`` says)."""
    time_track_path: Literal["/time-track", "/time_track"] = "/time-track"
    """Custify's reference gives ``/time-track`` and its samples ``/time_track``
    (docs/custify-api.md)."""


def problems(connections: Mapping[str, CustifyConnectionConfig]) -> list[str]:
    """What the schema cannot check, each with its key path."""
    found: list[str] = []
    for name, conn in connections.items():
        where = f"custify_connections.{name}"
        if not conn.api_key.strip():
            found.append(f"{where}.api_key: must not be empty")
        if not conn.base_url.startswith(("http://", "https://")):
            found.append(f"{where}.base_url: must start with https:// (got {conn.base_url!r})")
        if conn.rate_limit_requests <= 0 or conn.rate_limit_window_s <= 0:
            found.append(f"{where}.rate_limit_requests, rate_limit_window_s: must be positive")
        if conn.max_attempts < 1 or conn.timeout_s <= 0:
            found.append(f"{where}.max_attempts, timeout_s: must be positive")
    return found
