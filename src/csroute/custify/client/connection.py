"""One Custify connection (API key and base URL, with its rate limit and retry budget), and how
the CLI picks one: a named entry of the configuration file, or the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from csroute.custify.api import BASE_URL, RATE_LIMIT_REQUESTS, RATE_LIMIT_WINDOW_S, rate_limit_key
from csroute.custify.settings import CustifyConnectionConfig
from csroute.destinations.base import RateLimit
from csroute.secrets import mask

ENV_API_KEY = "CSROUTE_CUSTIFY_API_KEY"
ENV_BASE_URL = "CSROUTE_CUSTIFY_BASE_URL"
ENV_CONNECTION = "CSROUTE_CUSTIFY_CONNECTION"


@dataclass(frozen=True, slots=True)
class Connection:
    api_key: str = field(repr=False)
    base_url: str = BASE_URL
    rate_limit_requests: float = RATE_LIMIT_REQUESTS
    rate_limit_window_s: float = RATE_LIMIT_WINDOW_S
    timeout_s: float = 30.0
    max_attempts: int = 6
    """Tries per call on 429 and 5xx (and on network errors for reads)."""
    backoff_s: float = 0.5
    """First wait after a 5xx without ``Retry-After``; doubles per attempt, at most 30 s."""
    name: str = "default"
    time_track_path: str = "/time-track"
    """Custify's reference says ``/time-track``, its samples ``/time_track``
    (docs/custify-api.md)."""

    @property
    def rate_limit(self) -> RateLimit:
        """The same limiter key as the pipeline's Custify destination, so they share one budget."""
        return RateLimit(
            self.rate_limit_requests,
            self.rate_limit_window_s,
            rate_limit_key(self.api_key, self.base_url),
        )

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "base_url": self.base_url, "api_key": mask(self.api_key)}


class ConnectionNotFound(LookupError):
    """No connection matches what was asked for; the message says what exists."""


def resolve(
    connections: Mapping[str, CustifyConnectionConfig] | None,
    name: str | None,
    env: Mapping[str, str] | None = None,
) -> Connection:
    """The connection named ``name`` (``--connection``), else the default one.

    A name is looked up in ``connections`` (the configuration's ``custify_connections``).
    Without a name: ``$CSROUTE_CUSTIFY_CONNECTION`` names one; else
    ``$CSROUTE_CUSTIFY_API_KEY`` (with ``$CSROUTE_CUSTIFY_BASE_URL``) is the connection; else
    the only connection in ``connections``, or the one named ``default``.
    """
    env = os.environ if env is None else env
    named = dict(connections or {})
    name = name or env.get(ENV_CONNECTION) or None
    if name is None and env.get(ENV_API_KEY):
        base_url = env.get(ENV_BASE_URL) or BASE_URL
        return Connection(env[ENV_API_KEY], base_url.rstrip("/"), name="env")
    if name is None:
        if len(named) == 1:
            name = next(iter(named))
        elif "default" in named:
            name = "default"
        else:
            known = ", ".join(sorted(named)) or "none configured"
            raise ConnectionNotFound(
                f"no Custify connection chosen: pass --connection NAME (known: {known}) or set "
                f"{ENV_API_KEY}"
            )
    entry = named.get(name)
    if entry is None:
        known = ", ".join(sorted(named)) or "none configured"
        raise ConnectionNotFound(
            f"no Custify connection named {name!r} in custify_connections (known: {known})"
        )
    return Connection(
        entry.api_key,
        entry.base_url.rstrip("/"),
        entry.rate_limit_requests,
        entry.rate_limit_window_s,
        entry.timeout_s,
        entry.max_attempts,
        name=name,
        time_track_path=entry.time_track_path,
    )
