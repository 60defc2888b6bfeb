"""The options a sandbox is created with: plain values, so the CLI can pass flags through."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from csroute.custify import api

DEFAULT_API_KEY = "sandbox-key"


@dataclass(frozen=True)
class Settings:
    api_keys: frozenset[str] = frozenset({DEFAULT_API_KEY})
    # Keys that may read but get 403 on writes (what 403 means is not documented:
    # docs/custify-api.md, "Errors").
    read_only_keys: frozenset[str] = frozenset()
    # (requests, window seconds) per API key, or None for no limit.
    rate_limit: tuple[int, float] | None = (api.RATE_LIMIT_REQUESTS, api.RATE_LIMIT_WINDOW_S)
    batch_max_sync: int = api.MAX_SYNCHRONOUS_JOBS
    batch_max_async: int = api.MAX_ASYNCHRONOUS_JOBS
    batch_retention_s: float = api.BATCH_RETENTION_S
    request_log_size: int = 1000
    clock: Callable[[], float] = field(default=time.monotonic)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
