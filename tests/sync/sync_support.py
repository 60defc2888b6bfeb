"""Helpers of the sync tests: the configuration file naming the sandbox, and sandbox state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from typer.testing import Result

API_KEY = "sandbox-key"
Sync = Callable[..., Result]


def write_config(path: Path, url: str, extra: str = "", max_attempts: int = 6) -> Path:
    path.write_text(
        "custify_connections:\n"
        "  sandbox:\n"
        f"    api_key: {API_KEY}\n"
        f"    base_url: {url}\n"
        "    rate_limit_requests: 10000\n"
        "    rate_limit_window_s: 1\n"
        f"    max_attempts: {max_attempts}\n" + extra
    )
    return path


def state(url: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{url}/__sandbox/state").json()
    return body


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
