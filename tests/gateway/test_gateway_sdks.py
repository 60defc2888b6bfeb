"""Events sent by the official Python SDKs, with their default settings, land in the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway_support import WRITE_KEY, Gateway
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient


def send_all(client: Any, errors: list[Any]) -> None:
    """One call of each kind through ``client``, then flush (blocking: run in a thread)."""
    past = datetime.now(UTC) - timedelta(hours=2)
    client.identify("u1", {"email": "ada@example.com", "plan": "pro"})
    client.track("u1", "Order Completed", {"total": 42.5}, timestamp=past)
    client.page("u1", "Docs", "Install", {"path": "/docs/install"})
    client.screen("u1", "App", "Settings")
    client.group("u1", "acme", {"name": "Acme"})
    client.alias("anon-1", "u1")
    client.track(anonymous_id="anon-2", event="Viewed")
    if not client.sync_mode:
        client.flush()
        client.join()
    assert errors == []


def check(stored: list[dict[str, Any]]) -> None:
    assert [e["type"] for e in stored] == [
        "identify",
        "track",
        "page",
        "screen",
        "group",
        "alias",
        "track",
    ]
    assert [e["_user_key"] for e in stored] == ["u1"] * 6 + ["anon-2"]
    assert all(e["_source"] == "web" for e in stored)
    assert stored[1]["event"] == "Order Completed"
    assert stored[1]["properties"] == {"total": 42.5}
    assert stored[4]["groupId"] == "acme" and stored[5]["previousId"] == "anon-1"
    for e in stored:
        assert e["messageId"] and "writeKey" not in e
        received, timestamp = (
            datetime.fromisoformat(e["receivedAt"]),
            datetime.fromisoformat(e["timestamp"]),
        )
        assert received is not None and timestamp is not None
        assert datetime.fromisoformat(
            e["originalTimestamp"]
        ) is not None and datetime.fromisoformat(e["sentAt"])
        if e.get("event") == "Order Completed":  # happened 2 h before it was sent
            assert (
                timedelta(hours=1, minutes=59)
                < received - timestamp
                < timedelta(hours=2, minutes=1)
            )
        else:
            assert timedelta(0) <= received - timestamp < timedelta(minutes=1)


async def test_rudder_sdk_defaults_gzip(gateway: Gateway) -> None:
    errors: list[Any] = []
    client = RudderClient(WRITE_KEY, host=gateway.url, on_error=lambda e, b: errors.append(e))
    assert client.gzip
    await asyncio.to_thread(send_all, client, errors)
    check(await gateway.stored())


async def test_segment_sdk_defaults(gateway: Gateway) -> None:
    errors: list[Any] = []
    client = SegmentClient(WRITE_KEY, host=gateway.url, on_error=lambda e, b: errors.append(e))
    await asyncio.to_thread(send_all, client, errors)
    check(await gateway.stored())


async def test_segment_sdk_gzip_sync_mode(gateway: Gateway) -> None:
    errors: list[Any] = []
    client = SegmentClient(
        WRITE_KEY,
        host=gateway.url,
        gzip=True,
        sync_mode=True,
        on_error=lambda e, b: errors.append(e),
    )
    await asyncio.to_thread(send_all, client, errors)
    check(await gateway.stored())


async def test_sdk_reports_a_rejected_batch_without_retrying(gateway: Gateway) -> None:
    """rudder-sdk-python retries unless a 4xx body carries ``code`` and ``message``."""
    errors: list[Any] = []
    client = RudderClient(
        "wk_wrong_key_0000", host=gateway.url, on_error=lambda e, b: errors.append(e), max_retries=3
    )
    await asyncio.to_thread(lambda: (client.track("u1", "E"), client.flush(), client.join()))
    assert len(errors) == 1
    assert (errors[0].status, errors[0].code) == (401, "write_key")
    assert errors[0].message == "unknown write key"
    assert await gateway.stored() == []
