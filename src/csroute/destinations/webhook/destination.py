"""The webhook destination: the event itself is the body; batching sends a JSON array."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import msgspec

from csroute.destinations.base import (
    Batching,
    Delivery,
    DestinationType,
    RateLimit,
    Rejection,
    Request,
    Traits,
)
from csroute.events.model import Event


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = {}
    batch_size: int = 1
    """Events per request; above 1, bodies are JSON arrays of events, in order."""
    rate_limit_per_s: float | None = None
    timeout_s: float = 10.0


def transform(event: Event, settings: Settings, traits: Traits) -> list[Request] | Rejection:
    headers = {"Content-Type": "application/json", **settings.headers}
    return [Request(settings.method, settings.url, headers, {}, event)]


def _combine(requests: Sequence[Request]) -> Request:
    first = requests[0]
    return Request(first.method, first.url, first.headers, first.params, [r.body for r in requests])


def delivery(settings: Settings) -> Delivery:
    rate = None
    if settings.rate_limit_per_s:
        key = "webhook:" + hashlib.sha256(settings.url.encode()).hexdigest()[:12]
        rate = RateLimit(settings.rate_limit_per_s, 1.0, key)
    batching = Batching(settings.batch_size, _combine) if settings.batch_size > 1 else None
    return Delivery(rate_limit=rate, batching=batching, timeout_s=settings.timeout_s)


def check(settings: Settings) -> list[str]:
    problems = []
    if not settings.url.startswith(("http://", "https://")):
        problems.append(f"url: must start with http:// or https:// (got {settings.url!r})")
    if settings.batch_size < 1:
        problems.append(f"batch_size: must be at least 1 (got {settings.batch_size})")
    return problems


TYPE = DestinationType(
    name="webhook",
    settings=Settings,
    transform=transform,
    delivery=delivery,
    secret_settings=frozenset({"headers"}),
    check=check,
)
