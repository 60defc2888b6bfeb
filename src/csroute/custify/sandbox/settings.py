"""The options a sandbox is created with: plain values, so the CLI can pass flags through."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

DEFAULT_API_KEY = "sandbox-key"
BATCH_RETENTION_S = 6 * 3600.0


@dataclass(frozen=True)
class Settings:
    api_keys: frozenset[str] = frozenset({DEFAULT_API_KEY})
    # Keys that may read but get 403 on writes (checklist item 1; what 403 means is unconfirmed).
    read_only_keys: frozenset[str] = frozenset()
    # (requests, window seconds) per API key, or None for no limit.
    rate_limit: tuple[int, float] | None = (100, 10.0)
    batch_max_sync: int = 3
    batch_max_async: int = 100
    batch_retention_s: float = BATCH_RETENTION_S
    request_log_size: int = 1000
    clock: Callable[[], float] = field(default=time.monotonic)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
