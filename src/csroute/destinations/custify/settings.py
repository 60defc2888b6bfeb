"""Settings of ``type: custify`` and the checks that make a bad configuration fail at startup."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from csroute.custify.api import (
    BASE_URL,
    BATCH_RETENTION_S,
    MAX_SYNCHRONOUS_JOBS,
    RATE_LIMIT_REQUESTS,
    RATE_LIMIT_WINDOW_S,
)


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """One Custify connection. Frozen so derived constants can be cached per settings object."""

    api_key: Annotated[str, msgspec.Meta(min_length=1)]
    """Custify API key (Settings → Developer → API Key). Required: never sent as a placeholder."""
    send_anonymous_id: bool = False
    """Use ``anonymousId`` as ``user_id`` when the event names no user id."""
    base_url: str = BASE_URL
    """Accounts on regional clusters have their own API URL (shown in Custify's settings)."""
    deduplication: bool = True
    """Send ``deduplication_id`` with every Custify event, so redelivery cannot double-count."""
    deduplication_field: str = ""
    """Dot path into the event for ``deduplication_id`` (e.g. ``properties.order_id``);
    ``messageId`` when empty or when the path holds nothing."""
    page_and_screen: Literal["reject", "track"] = "reject"
    """Custify has no page views: reject them, or send them as events ``Viewed <name> Page``."""
    batch_size: int = 100
    """Jobs per ``POST /batch``; 1 sends one request per event."""
    batch_synchronous: bool = False
    """Ask Custify to apply each batch before answering (at most 3 jobs per batch)."""
    batch_check_every: int = 50
    """At most one ``GET /batch/{id}`` per this many batches (plus a burst of 3 after failed
    jobs are found); 0 never checks, so every accepted batch counts delivered, unverified."""
    batch_check_delay_s: float = 10.0
    """How long after an asynchronous batch its outcome is read (Custify runs it meanwhile)."""
    rate_limit_requests: float = RATE_LIMIT_REQUESTS
    rate_limit_window_s: float = RATE_LIMIT_WINDOW_S
    timeout_s: float = 30.0


def check(settings: Settings) -> list[str]:
    """Problems the schema cannot express; each names its key and never shows the API key."""
    problems = []
    if not settings.api_key.strip():
        problems.append("api_key: must not be blank")
    if not settings.base_url.startswith(("http://", "https://")):
        problems.append(f"base_url: must start with https:// (got {settings.base_url!r})")
    if settings.batch_size < 1:
        problems.append(f"batch_size: must be at least 1 (got {settings.batch_size})")
    if settings.batch_synchronous and settings.batch_size > MAX_SYNCHRONOUS_JOBS:
        problems.append(
            f"batch_size: synchronous batches hold at most {MAX_SYNCHRONOUS_JOBS} jobs "
            f"(got {settings.batch_size})"
        )
    if settings.batch_check_every < 0:
        problems.append(
            f"batch_check_every: must be 0 (never) or more (got {settings.batch_check_every})"
        )
    if not 0 <= settings.batch_check_delay_s < BATCH_RETENTION_S:
        problems.append(
            f"batch_check_delay_s: must be from 0 to under {BATCH_RETENTION_S:g} (Custify keeps"
            f" a batch's outcome 6 hours; got {settings.batch_check_delay_s:g})"
        )
    if settings.rate_limit_requests <= 0 or settings.rate_limit_window_s <= 0:
        problems.append("rate_limit_requests, rate_limit_window_s: must be positive")
    if settings.timeout_s <= 0:
        problems.append(f"timeout_s: must be positive (got {settings.timeout_s})")
    return problems
