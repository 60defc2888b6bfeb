"""Requests and responses as they may be kept in dead letters, logs and CLI output: with every
secret masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from csroute.config import Config
from csroute.destinations.base import DestinationType, Request
from csroute.destinations.registry import DESTINATION_TYPES
from csroute.secrets import MIN_SECRET_LEN, Scrubber, mask, scrubber

ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


@dataclass(slots=True, frozen=True)
class Secrets:
    """What to mask in a destination's requests, and in what comes back from it."""

    header_names: frozenset[str]  # lower-cased: every value of these headers is masked
    values: tuple[str, ...]  # masked wherever a header value contains one

    def scrubber(self, request: Request) -> Scrubber:
        """Masks this destination's secret values and the request's secret header values,
        in every form they travel in (a receiver may echo them back in an error body)."""
        found = set(self.values)
        for name, value in request.headers.items():
            if self.is_secret_header(name, value):
                found.add(value)
        return scrubber(frozenset(found))

    def is_secret_header(self, name: str, value: str) -> bool:
        return name.lower() in self.header_names or any(s in value for s in self.values)


NO_SECRETS = Secrets(ALWAYS_SECRET, ())


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


def config_secrets(config: Config) -> frozenset[str]:
    """Every secret value a configuration holds: write keys, the admin token, the store's
    password, and each destination's secret settings (the values of a secret mapping too)."""
    found = {s.write_key for s in config.sources}
    found.add(config.admin.token)
    found.add(urlsplit(config.store.url).password or "")
    for d in config.destinations:
        for setting in DESTINATION_TYPES[d.type].secret_settings:
            value = d.settings.get(setting)
            if isinstance(value, dict):
                found.update(str(v) for v in value.values())
            elif value is not None:
                found.add(str(value))
    return frozenset(v for v in found if len(v.strip()) >= MIN_SECRET_LEN)


def redact(request: Request, secrets: Secrets) -> dict[str, Any]:
    """``request.to_json()`` with secret header values masked, and every secret value masked
    wherever else it appears (URL, query parameters, body)."""
    shown = request.to_json()
    headers = shown["headers"]
    for name, value in headers.items():
        if secrets.is_secret_header(name, value):
            scheme, _, credential = value.partition(" ")
            headers[name] = f"{scheme} {mask(credential)}" if credential else mask(value)
    scrub = secrets.scrubber(request)
    if scrub:
        for key in ("url", "params", "body"):
            shown[key] = scrub.json(shown[key])
    return shown
