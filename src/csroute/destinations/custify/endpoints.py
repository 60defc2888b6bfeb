"""The URLs and headers of one Custify connection, computed once per settings object.

Every request of a connection shares the same immutable headers and URL strings, so the hot
path allocates nothing for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from csroute.destinations.custify.settings import Settings

NO_PARAMS: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True, frozen=True)
class Endpoints:
    headers: Mapping[str, str]
    people: str
    company: str
    event: str
    batch: str
    deduplication_path: tuple[str, ...]
    """``deduplication_field`` split at dots; empty for ``messageId``."""

    @classmethod
    def of(cls, settings: Settings) -> Endpoints:
        base = settings.base_url.rstrip("/")
        headers = MappingProxyType(
            {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.api_key}",
                "Accept": "application/json",
            }
        )
        field = settings.deduplication_field
        return cls(
            headers,
            f"{base}/people",
            f"{base}/company",
            f"{base}/event",
            f"{base}/batch",
            tuple(field.split(".")) if field else (),
        )


_cache: dict[int, tuple[Settings, Endpoints]] = {}
_CACHE_MAX = 64


def endpoints(settings: Settings) -> Endpoints:
    """The connection's endpoints; cached by identity (settings are frozen)."""
    hit = _cache.get(id(settings))
    if hit is not None and hit[0] is settings:
        return hit[1]
    if len(_cache) >= _CACHE_MAX:  # many short-lived settings (tests, CLI): start over
        _cache.clear()
    found = Endpoints.of(settings)
    _cache[id(settings)] = (settings, found)
    return found
