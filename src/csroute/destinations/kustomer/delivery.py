"""What the router must know about Kustomer's API, and what each error asks of the user."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from typing import Any

from csroute.destinations.base import Delivery, RateLimit
from csroute.destinations.kustomer.settings import Settings

PLAN_LIMITS = "300 Professional, 500 Business, 1,000 Enterprise, 2,000 Ultimate"


def delivery(settings: Settings) -> Delivery:
    key = "kustomer:" + hashlib.sha256(settings.api_key.encode()).hexdigest()[:16]
    return Delivery(
        rate_limit=RateLimit(settings.rate_limit_per_minute, 60.0, key),
        explain=partial(explain, settings.api_base),
        timeout_s=settings.timeout_s,
    )


def explain(api_base: str, status: int, body: bytes) -> str:
    """Kustomer's answer in plain words: what went wrong and what the user must change."""
    said = error_text(body)
    heard = f" Kustomer said: {said}" if said else ""
    if "being handled by" in said:
        return (
            f"Kustomer refused the key for this region ({status}): it belongs to another "
            "region's pod. Use https://<org_name>.api.kustomerapp.com, or set base_url to the "
            "key's region (US https://api.kustomerapp.com, EU https://api.prod2.kustomerapp.com, "
            f"India https://api.prod4.kustomerapp.com).{heard}"
        )
    if status == 401:
        return (
            "Kustomer refused the API key (401): it is wrong, expired or revoked. Create a key "
            "with the org.tracking role in Kustomer (Settings > Security > API Keys) and put it "
            f"in api_key.{heard}"
        )
    if status == 403:
        return (
            "The API key lacks the org.tracking role (403). Roles are fixed when a key is "
            "created: create a new key with org.tracking in Kustomer (Settings > Security > API "
            f"Keys) and put it in api_key.{heard}"
        )
    if status == 404:
        return (
            f"Kustomer answered 404 at {api_base}: the organisation in the host is wrong. "
            "org_name must be your Kustomer subdomain ('acme' for acme.kustomerapp.com); check "
            f"org_name, and base_url if you set one.{heard}"
        )
    if status == 400:
        key = meta_key_of(body)
        which = f"the meta key {key!r} breaks" if key else "a meta key or the event name breaks"
        return (
            f"Kustomer rejected the event (400): {which} its naming rules. Numbers need keys "
            "ending in 'Num', date-times keys ending in 'At', strings keys that end in neither, "
            f"and event names must start with a letter. Fix field_mappings or the event.{heard}"
        )
    if status == 429:
        return (
            "Kustomer's rate limit was reached (429): the org's per-minute budget is shared by "
            "every key, agent and integration. csroute waits for the reset and retries; if it "
            "keeps happening, set rate_limit_per_minute below your plan's limit "
            f"({PLAN_LIMITS}) to leave room for other users.{heard}"
        )
    if status >= 500:
        return f"Kustomer had a server error ({status}); csroute retried with backoff.{heard}"
    return f"Kustomer answered {status}.{heard}"


def error_text(body: bytes) -> str:
    """The human part of either Kustomer error shape (``errors[]`` or a legacy top level)."""
    document = _json(body)
    if not isinstance(document, dict):
        return body[:200].decode("utf-8", "replace").strip()
    texts = []
    errors = document.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict):
            text = error.get("detail") or error.get("message") or error.get("title")
            if isinstance(text, str):
                texts.append(text)
    for legacy in ("message", "error", "errorCode"):
        if not texts and isinstance(document.get(legacy), str):
            texts.append(document[legacy])
    return "; ".join(texts)[:300]


def meta_key_of(body: bytes) -> str | None:
    """The meta key a 400 points at: ``source.pointer`` ``/event/meta/<key>``, or a parameter."""
    document = _json(body)
    errors = document.get("errors") if isinstance(document, dict) else None
    for error in errors if isinstance(errors, list) else []:
        source = error.get("source") if isinstance(error, dict) else None
        if not isinstance(source, dict):
            continue
        pointer = source.get("pointer")
        if isinstance(pointer, str) and "/meta/" in pointer:
            return pointer.rsplit("/meta/", 1)[1]
        for name in ("parameter", "parameters"):
            value = source.get(name)
            if isinstance(value, str) and value:
                return value.removeprefix("event.meta.")
    return None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
