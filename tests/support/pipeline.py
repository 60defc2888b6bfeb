"""Helpers for tests that drive the pipeline in-process: configs, events, waiting."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import yaml

from csroute import config as config_module
from csroute.config import Config
from csroute.events.model import NewEvent, user_key
from csroute.store.base import Store


def make_config(
    destinations: list[dict[str, Any]],
    *,
    sources: list[str] = ("web",),  # type: ignore[assignment]
    delivery: dict[str, Any] | None = None,
    **extra: Any,
) -> Config:
    """A configuration where every source feeds every destination; fast retries for tests."""
    policy = {
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.5,
        "max_attempts": 1000,
        "max_retry_age_s": 3600,
        **(delivery or {}),
    }
    doc = {
        "sources": [{"name": s, "write_key": f"{s}-write-key-123"} for s in sources],
        "destinations": destinations,
        "connections": [
            {"source": s, "destinations": [d["name"] for d in destinations]} for s in sources
        ],
        "delivery": policy,
        **extra,
    }
    return config_module.parse(yaml.safe_dump(doc), env={})


def event(user: str, n: int, type: str = "track", **fields: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "type": type,
        "userId": user,
        "messageId": str(uuid.uuid4()),
        "properties": {"n": n},
        **fields,
    }
    if type == "track":
        e.setdefault("event", "Tested")
    return e


async def append(store: Store, events: list[dict[str, Any]], source: str = "web") -> None:
    await store.append(
        [NewEvent(source, user_key(e), e["type"], msgspec.json.encode(e)) for e in events]
    )


async def wait_until(check: Callable[[], Any], timeout: float = 60.0, step: float = 0.05) -> None:
    """Poll until ``check()`` is truthy (awaiting it if needed); fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)
