"""What the sandbox org holds: customers, visitors, timelines, the rate window and the faults.

Everything lives in memory on the event loop's thread; handlers change it without awaiting in
between, so no locks are needed.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """Kustomer ids are 24 hex digits (MongoDB object ids)."""
    return secrets.token_hex(12)


@dataclass
class Customer:
    id: str
    name: str | None
    external_id: str | None
    emails: list[str]
    phones: list[str]
    created_at: str
    updated_at: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Visitor:
    """A tracking id; its events wait here until it is identified (Kustomer shows them then)."""

    tracking_id: str
    customer_id: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Faults:
    """Injected trouble. ``script`` is consumed first, one entry per tracking request.

    A script entry is a status to answer (nothing lands) or ``"drop"``: the request lands but
    the connection closes before the response, as when a response is lost on the way.
    """

    error_rate: float = 0.0
    error_status: int = 503
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    latency_ms: float = 0.0
    script: list[int | str] = field(default_factory=list)
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def next_outcome(self) -> int | str | None:
        """The fault for this request: a status, ``"drop"`` or None (behave normally)."""
        if self.script:
            return self.script.pop(0)
        roll = self.rng.random()
        if roll < self.error_rate:
            return self.error_status
        if roll < self.error_rate + self.throttle_rate:
            return 429
        if roll < self.error_rate + self.throttle_rate + self.drop_rate:
            return "drop"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "throttle_rate": self.throttle_rate,
            "drop_rate": self.drop_rate,
            "latency_ms": self.latency_ms,
            "script": list(self.script),
            "seed": self.seed,
        }


@dataclass
class RateWindow:
    """Kustomer's org budget: a fixed 60-second window opened by its first request."""

    limit: int | None
    started: float = 0.0
    used: int = 0
    rejected: int = 0

    def take(self, now: float) -> bool:
        """Count one request; False when the budget of the current window is spent."""
        if self.limit is None:
            return True
        if now >= self.started + 60.0:
            self.started, self.used = now, 0
        if self.used >= self.limit:
            self.rejected += 1
            return False
        self.used += 1
        return True

    def headers(self, now: float) -> dict[str, str]:
        if self.limit is None:
            return {}
        reset = self.started + 60.0 if now < self.started + 60.0 else now + 60.0
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(max(0, self.limit - self.used)),
            "x-ratelimit-reset": str(int(reset + 0.999)),
        }


@dataclass
class Org:
    name: str
    id: str = field(default_factory=new_id)
    customers: dict[str, Customer] = field(default_factory=dict)
    by_email: dict[str, str] = field(default_factory=dict)
    by_external_id: dict[str, str] = field(default_factory=dict)
    by_phone: dict[str, str] = field(default_factory=dict)
    """Lookups to customer ids; emails lower-cased, externalIds and phones as given."""
    visitors: dict[str, Visitor] = field(default_factory=dict)

    def find(
        self, email: str | None, external_id: str | None, phone: str | None
    ) -> Customer | None:
        """Email first, then externalId, then phone (Datafly's order; Kustomer gives none)."""
        found = (
            (email and self.by_email.get(email.lower()))
            or (external_id and self.by_external_id.get(external_id))
            or (phone and self.by_phone.get(phone))
        )
        return self.customers[found] if found else None

    def identify(self, identity: dict[str, Any]) -> tuple[Visitor, Customer | None]:
        """Find or create the customer, and tie the visitor (tracking id) to them.

        A matched customer gains identifiers it lacked (an email, an externalId, a name); what
        it has is never overwritten. Events the visitor recorded anonymously move onto the
        customer's timeline.
        """
        visitor = self.visitor(identity.get("trackingId"))
        email, external_id, phone = (
            identity.get(k) or None for k in ("email", "externalId", "phone")
        )
        if not (email or external_id or phone):
            return visitor, self.customers.get(visitor.customer_id or "")
        customer = self.find(email, external_id, phone)
        stamp = now_iso()
        if customer is None:
            customer = Customer(new_id(), identity.get("name"), None, [], [], stamp, stamp)
            self.customers[customer.id] = customer
        if email and email.lower() not in self.by_email:
            customer.emails.append(email)
            self.by_email[email.lower()] = customer.id
        if phone and phone not in self.by_phone:
            customer.phones.append(phone)
            self.by_phone[phone] = customer.id
        if external_id and customer.external_id is None and external_id not in self.by_external_id:
            customer.external_id = external_id
            self.by_external_id[external_id] = customer.id
        customer.name = customer.name or identity.get("name")
        customer.updated_at = stamp
        visitor.customer_id = customer.id
        customer.events.extend(visitor.pending)
        visitor.pending.clear()
        return visitor, customer

    def visitor(self, tracking_id: str | None) -> Visitor:
        if tracking_id and tracking_id in self.visitors:
            return self.visitors[tracking_id]
        visitor = Visitor(tracking_id or new_id())
        self.visitors[visitor.tracking_id] = visitor
        return visitor

    def record(self, visitor: Visitor, event: dict[str, Any]) -> dict[str, Any]:
        """Put an event on the visitor's customer timeline (or hold it until identified)."""
        stamp = now_iso()
        meta = dict(event.get("meta") or {})
        if event.get("sessionId"):
            meta["sessionId"] = event["sessionId"]
        entry = {
            "type": "customer_event",
            "id": new_id(),
            "attributes": {
                "name": event["name"],
                "trackingEvent": True,
                "app": "tracking",
                "trackingId": visitor.tracking_id,
                "publishedAt": stamp,
                "createdAt": stamp,
                "meta": meta,
            },
        }
        customer = self.customers.get(visitor.customer_id or "")
        (customer.events if customer else visitor.pending).append(entry)
        return entry
