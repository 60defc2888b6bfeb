"""Requests as they may be kept in dead letters, logs and CLI output: with every secret masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from csroute.destinations.base import DestinationType, Request
from csroute.secrets import mask

ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
MIN_SECRET_LEN = 6
"""Shorter secret values are not looked for inside other headers: they would match anything."""


@dataclass(slots=True, frozen=True)
class Secrets:
    """What to mask in a destination's requests."""

    header_names: frozenset[str]  # lower-cased: every value of these headers is masked
    values: tuple[str, ...]  # masked wherever a header value contains one


def secrets_of(dtype: DestinationType[Any], settings: Any) -> Secrets:
    """A destination's secrets: its secret settings' values, and the names of headers that a
    secret mapping setting (such as a webhook's ``headers``) configures."""
    names: set[str] = set(ALWAYS_SECRET)
    values: list[str] = []
    for setting in dtype.secret_settings:
        value = getattr(settings, setting, None)
        if isinstance(value, dict):
            names.update(str(k).lower() for k in value)
        elif value and len(str(value)) >= MIN_SECRET_LEN:
            values.append(str(value))
    return Secrets(frozenset(names), tuple(values))


def redact(request: Request, secrets: Secrets) -> dict[str, Any]:
    """``request.to_json()`` with secret header values masked."""
    shown = request.to_json()
    headers = shown["headers"]
    for name, value in headers.items():
        if name.lower() in secrets.header_names or any(s in value for s in secrets.values):
            scheme, _, credential = value.partition(" ")
            headers[name] = f"{scheme} {mask(credential)}" if credential else mask(value)
    return shown
