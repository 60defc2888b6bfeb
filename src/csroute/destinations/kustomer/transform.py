"""One event -> one ``POST /v1/tracking/identityEvent``: who the customer is, and what they did.

Pure: the router passes the traits it remembered from the user's earlier identify calls, so a
track event that carries no email still reaches the customer Kustomer knows by that email.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csroute.destinations.base import Rejection, Request, Traits
from csroute.destinations.kustomer.meta import coerced, flatten, suffixed
from csroute.destinations.kustomer.settings import Settings
from csroute.events.model import Event

_WHITESPACE_TO = {"keep": None, "dash": "-", "underscore": "_"}


def transform(event: Event, settings: Settings, traits: Traits) -> list[Request] | Rejection:
    kind = event.get("type")
    if kind in ("group", "alias"):
        return Rejection(
            f"kustomer: {kind} calls are not sent: Kustomer's tracking API records a person's "
            f"events, and has no {kind} call (exclude them with filters.event_types)"
        )
    incoming = event.get("event") if kind == "track" else kind
    if not isinstance(incoming, str) or not incoming.strip():
        return Rejection("kustomer: a track call needs an event name")
    name = _event_name(settings, incoming)
    if not name[:1].isalpha():
        return Rejection(f"kustomer: event name {name!r} must start with a letter")
    identity = _identity(event, traits)
    if "email" not in identity and "externalId" not in identity:
        return Rejection(
            "kustomer: no email and no userId, so Kustomer could not attach the event to a "
            "customer; call identify (with the email trait) before other calls, or send a userId"
        )
    meta = _meta(event, settings.field_mappings, incoming)
    if isinstance(meta, Rejection):
        return meta
    body_event: dict[str, Any] = {"name": name, "meta": meta}
    session = _at_path(event, "context.sessionId")
    if session is not None and session != "":
        body_event["sessionId"] = str(session)
    headers = {
        "Authorization": f"Bearer {settings.api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "csroute",
    }
    url = f"{settings.api_base}/v1/tracking/identityEvent"
    return [Request("POST", url, headers, {}, {"identity": identity, "event": body_event})]


def _event_name(settings: Settings, incoming: str) -> str:
    name = settings.names.get(incoming, incoming).strip()
    replacement = _WHITESPACE_TO[settings.event_name_whitespace]
    return name if replacement is None else replacement.join(name.split())


def _identity(event: Event, remembered: Traits) -> dict[str, str]:
    """Email (trimmed, lower-cased), externalId (the userId) and name; the event's own first."""
    own = event.get("traits") if event.get("type") == "identify" else None
    if not isinstance(own, dict):
        own = _at_path(event, "context.traits")
    sources = [t for t in (own, remembered) if isinstance(t, Mapping)]
    identity: dict[str, str] = {}
    email = next((t["email"] for t in sources if isinstance(t.get("email"), str)), "")
    if email.strip():
        identity["email"] = email.strip().lower()
    user_id = event.get("userId")
    if user_id is not None and str(user_id).strip():
        identity["externalId"] = str(user_id)
    name = next((n for n in map(_full_name, sources) if n), "")
    if name:
        identity["name"] = name
    return identity


def _full_name(traits: Traits) -> str:
    name = traits.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [traits.get("firstName"), traits.get("lastName")]
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def _meta(
    event: Event, mappings: dict[str, dict[str, str]], incoming: str
) -> dict[str, Any] | Rejection:
    """Mapped fields first (exactly as the user named them), then the remaining properties."""
    mapped = {**mappings.get("*", {}), **mappings.get(incoming, {})}
    meta: dict[str, Any] = {}
    for key, path in mapped.items():
        value = _at_path(event, path)
        if value is None:
            continue
        try:
            meta[key] = coerced(key, value)
        except ValueError as e:
            return Rejection(f"kustomer: field_mappings: {e} (from {path})")
    taken = {path.removeprefix("properties.") for path in mapped.values()}
    properties = event.get("properties")
    for path, raw_key, value in flatten(properties if isinstance(properties, dict) else {}, []):
        if not raw_key or any(path == t or path.startswith(t + ".") for t in taken):
            continue
        key, final = suffixed(raw_key, value)
        meta.setdefault(key, final)
    anonymous_id = event.get("anonymousId")
    if anonymous_id is not None and anonymous_id != "":
        meta["anonymousId"] = str(anonymous_id)
    occurred = event.get("timestamp") or event.get("originalTimestamp") or event.get("receivedAt")
    if occurred:
        meta["occurredAt"] = str(occurred)
    return meta


def _at_path(event: Event, path: str) -> Any:
    value: Any = event
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
