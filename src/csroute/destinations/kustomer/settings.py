"""Settings of ``type: kustomer`` and the checks that refuse a bad configuration at load time.

A field mapping is written as ``meta key: event path``. The key's suffix declares what Kustomer
will expect (``Num`` a number, ``At`` a date-time, anything else a string), so a mapping whose
key contradicts the known kind of its source is refused here, naming the key, rather than
earning a 400 from Kustomer for every event later.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

SMALLEST_PLAN_PER_MINUTE = 300
"""Kustomer's Professional (legacy) plan: the lowest org-wide budget (requests per minute)."""

PRESET_EVENT_NAMES: dict[str, str] = {
    "page": "Page Viewed",
    "Signed Up": "Signed Up",
    "Logged In": "Logged In",
    "Products Searched": "Products Searched",
    "Product Viewed": "Product Viewed",
    "Product Added": "Product Added",
    "Checkout Started": "Checkout Started",
    "Order Completed": "Order Completed",
    "screen": "Screen Viewed",
    "identify": "Identified",
}
"""Incoming event (``page``, ``screen``, ``identify`` for those calls) to Kustomer event name.

Datafly's preset, plus names for screen and identify calls, which Datafly does not list.
"""

ALWAYS_IN_META = frozenset({"anonymousId", "occurredAt"})

NUMERIC_FIELDS = frozenset(
    "properties." + name
    for name in (
        "revenue",
        "total",
        "subtotal",
        "value",
        "price",
        "quantity",
        "tax",
        "shipping",
        "discount",
        "position",
    )
)
"""Segment e-commerce spec properties that are numbers."""

DATE_TIME_FIELDS = frozenset({"timestamp", "originalTimestamp", "sentAt", "receivedAt"})

STRING_FIELDS = frozenset(
    {"messageId", "userId", "anonymousId", "event", "name", "type", "context.ip",
     "context.locale", "context.page.url", "context.page.path", "context.page.title",
     "context.page.referrer", "context.userAgent", "context.campaign.source",
     "context.campaign.medium", "context.campaign.name"}
    | {"properties." + name for name in (
        "order_id", "checkout_id", "product_id", "sku", "name", "category", "brand", "variant",
        "currency", "coupon", "query", "url", "title", "path", "referrer", "search",
    )}
)  # fmt: skip

_CAMEL_KEY = re.compile(r"[a-z][A-Za-z0-9]*")
_ORG_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    org_name: str
    """The Kustomer subdomain: ``acme`` for acme.kustomerapp.com."""
    api_key: str
    """A key with the ``org.tracking`` role, sent as ``Authorization: Bearer``."""
    base_url: str = ""
    """Replaces ``https://<org_name>.api.kustomerapp.com``: a regional host or a sandbox."""
    rate_limit_per_minute: int = SMALLEST_PLAN_PER_MINUTE
    """The org's plan budget, shared by every key of the org."""
    event_name_preset: Literal["default", "none"] = "default"
    event_names: dict[str, str] = {}
    """Added to (and overriding) the preset: incoming event name to Kustomer event name."""
    event_name_whitespace: Literal["keep", "dash", "underscore"] = "keep"
    field_mappings: dict[str, dict[str, str]] = {}
    """Per incoming event name (``*`` for all): meta key to event path (``properties.total``)."""
    timeout_s: float = 10.0

    @property
    def api_base(self) -> str:
        return (self.base_url or f"https://{self.org_name}.api.kustomerapp.com").rstrip("/")

    @property
    def names(self) -> dict[str, str]:
        preset = PRESET_EVENT_NAMES if self.event_name_preset == "default" else {}
        return {**preset, **self.event_names}


def check(settings: Settings) -> list[str]:
    """Problems the schema cannot see, each naming its key."""
    problems = []
    if not _ORG_NAME.fullmatch(settings.org_name):
        problems.append(
            f"org_name: must be the Kustomer subdomain, e.g. 'acme' for acme.kustomerapp.com "
            f"(got {settings.org_name!r})"
        )
    if not settings.api_key.strip():
        problems.append("api_key: must not be empty")
    if settings.base_url and not settings.base_url.startswith(("http://", "https://")):
        problems.append(f"base_url: must start with https:// (got {settings.base_url!r})")
    if settings.rate_limit_per_minute < 1:
        problems.append(
            f"rate_limit_per_minute: must be at least 1 (got {settings.rate_limit_per_minute})"
        )
    for incoming, name in settings.names.items():
        if not name.strip()[:1].isalpha():
            problems.append(
                f"event_names.{incoming}: Kustomer event names must start with a letter "
                f"(got {name!r})"
            )
    for event, mapping in settings.field_mappings.items():
        for key, path in mapping.items():
            problem = mapping_problem(key, path)
            if problem:
                problems.append(f"field_mappings.{event}.{key}: {problem}")
    return problems


def mapping_problem(key: str, path: str) -> str | None:
    """Why ``key: path`` breaks Kustomer's meta rules, or None."""
    if not _CAMEL_KEY.fullmatch(key):
        return "meta keys must be camelCase: a lower-case letter, then letters and digits"
    if key in ALWAYS_IN_META:
        return f"{key!r} is always set by csroute and cannot be mapped"
    if not path or any(not part for part in path.split(".")):
        return f"{path!r} is not an event path such as 'properties.total'"
    stem = key.removesuffix("Num").removesuffix("At") or "value"
    if path in NUMERIC_FIELDS and not key.endswith("Num"):
        return f"{path} is a number, so its key must end in 'Num' (e.g. {stem + 'Num'!r})"
    if path in DATE_TIME_FIELDS and not key.endswith("At"):
        return f"{path} is a date-time, so its key must end in 'At' (e.g. {stem + 'At'!r})"
    if path in STRING_FIELDS and key.endswith(("Num", "At")):
        return f"{path} is a string, so its key must not end in 'Num' or 'At' (e.g. {stem!r})"
    return None
