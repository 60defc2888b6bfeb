"""The browser-facing surface: the paths, headers and CORS answers the browser SDKs rely on.

tests/browser drives the real SDKs in Chromium; this checks each rule on its own, over HTTP.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from gateway_support import SOURCES, WRITE_KEY, Gateway, basic, serve
from prometheus_client import CollectorRegistry
from test_gateway_http import EVENTS, error

from csroute.config import SourceConfig
from csroute.events.limits import Limits
from csroute.gateway.app import GatewayApp
from csroute.gateway.metrics import PrometheusGatewayMetrics
from csroute.gateway.pixel import GIF
from csroute.gateway.refusals import Refusals
from csroute.store.sqlite import SQLiteStore

ORIGIN = "https://app.example.com"
SHORT = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias"}


@pytest.fixture
async def anonymous(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending no Authorization header: the key travels in the body or the query."""
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        yield client


@pytest.mark.parametrize("letter", sorted(SHORT))
async def test_segment_short_paths_take_text_plain_with_the_key_in_the_body(
    gateway: Gateway, anonymous: httpx.AsyncClient, letter: str
) -> None:
    kind = SHORT[letter]
    body = msgspec.json.encode({**EVENTS[kind], "writeKey": WRITE_KEY, "type": kind})
    response = await anonymous.post(
        f"/v1/{letter}",
        content=body,
        headers={"Content-Type": "text/plain", "X-Retry-Count": "1"},
    )
    assert response.json() == {"success": True, "accepted": 1}
    (stored,) = await gateway.stored()
    assert stored["type"] == kind and "writeKey" not in stored


async def test_segment_batching_path(anonymous: httpx.AsyncClient) -> None:
    body = {"writeKey": WRITE_KEY, "batch": [EVENTS["track"] | {"type": "track"}] * 2}
    response = await anonymous.post(
        "/v1/b", content=msgspec.json.encode(body), headers={"Content-Type": "text/plain"}
    )
    assert response.json() == {"success": True, "accepted": 2}


async def test_segment_metrics_are_answered_and_not_stored(
    gateway: Gateway, anonymous: httpx.AsyncClient
) -> None:
    response = await anonymous.post("/v1/m", content=b'{"series":[]}')
    assert response.status_code == 200
    assert await gateway.stored() == []


async def test_rudderstack_beacon_key_in_the_query_string(
    gateway: Gateway, anonymous: httpx.AsyncClient
) -> None:
    body = msgspec.json.encode({"batch": [EVENTS["track"] | {"type": "track"}]})
    beacon = await anonymous.post(
        f"/beacon/v1/batch?writeKey={WRITE_KEY}",
        content=body,
        headers={"Content-Type": "text/plain", "Origin": ORIGIN},
    )
    assert beacon.json() == {"success": True, "accepted": 1}
    # navigator.sendBeacon always sends credentials: "*" would be refused by the browser.
    assert beacon.headers["access-control-allow-origin"] == ORIGIN
    assert beacon.headers["access-control-allow-credentials"] == "true"
    wrong = await anonymous.post("/beacon/v1/batch?writeKey=wk_nope_000", content=body)
    error(wrong, 401, "writeKey", "write_key")


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None],
)
async def test_the_body_decides_not_its_label(gateway: Gateway, content_type: str | None) -> None:
    """rudder-sdk-node's default: a gzip batch labelled as a form."""
    body = gzip.compress(msgspec.json.encode({"batch": [EVENTS["track"] | {"type": "track"}]}))
    headers = {"Content-Encoding": "gzip"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await gateway.client.post("/v1/batch", content=body, headers=headers)
    assert response.json() == {"success": True, "accepted": 1}


@pytest.mark.parametrize("kind", ["track", "page"])
async def test_pixel(gateway: Gateway, anonymous: httpx.AsyncClient, kind: str) -> None:
    query: dict[str, Any] = {
        "writeKey": WRITE_KEY,
        "anonymousId": '"anon-1"',
        "event": "Opened Email",
        "name": "Newsletter",
        "properties.campaign.id": "c7",
    }
    response = await anonymous.get(f"/pixel/v1/{kind}", params=query)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif" and response.content == GIF
    (stored,) = await gateway.stored()
    assert stored["type"] == kind and stored["anonymousId"] == "anon-1"
    assert stored["properties"] == {"campaign": {"id": "c7"}} and stored["channel"] == "web"
    assert "writeKey" not in stored


async def test_pixel_refusals(anonymous: httpx.AsyncClient) -> None:
    client = anonymous
    no_event = {"writeKey": WRITE_KEY, "anonymousId": "a"}
    error(await client.get("/pixel/v1/track", params=no_event), 400, "event", "required")
    no_key = await client.get("/pixel/v1/page", params={"anonymousId": "a"})
    error(no_key, 401, "writeKey", "write_key")
    deep = {"writeKey": WRITE_KEY, "anonymousId": "a", "a" + ".a" * 40: "1"}
    error(await client.get("/pixel/v1/page", params=deep), 400, "a" + ".a" * 40, "max_depth")
    error(await client.post("/pixel/v1/page"), 405, "", "method")


async def test_rudderstack_source_config(gateway: Gateway, anonymous: httpx.AsyncClient) -> None:
    for response in (
        await anonymous.get("/sourceConfig/", params={"writeKey": WRITE_KEY, "v": "3.34.1"}),
        await gateway.client.get("/sourceConfig/"),  # the key in the Authorization header
    ):
        assert response.status_code == 200
        source = response.json()["source"]
        assert source["writeKey"] == WRITE_KEY and source["enabled"] is True
        assert source["destinations"] == [] and source["id"] == "web"
        assert source["config"]["statsCollection"]["metrics"]["enabled"] is False
    head = await gateway.client.head("/sourceConfig", params={"view": "ad"})
    assert head.status_code == 200 and head.content == b""
    unknown = await anonymous.get("/sourceConfig/", params={"writeKey": "wk_nope_0"})
    error(unknown, 401, "writeKey", "write_key")


async def test_segment_settings(gateway: Gateway, anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(f"/v1/projects/{WRITE_KEY}/settings", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    settings = response.json()
    segment_io = settings["integrations"]["Segment.io"]
    host = gateway.url.removeprefix("http://")
    assert segment_io == segment_io | {
        "apiKey": WRITE_KEY,
        "apiHost": f"{host}/v1",
        "protocol": "http",
    }
    assert list(settings["integrations"]) == ["Segment.io"]  # no device-mode destination
    assert settings["metrics"]["sampleRate"] == 0 and settings["remotePlugins"] == []
    error(await anonymous.get("/v1/projects/wk_nope_0/settings"), 401, "writeKey", "write_key")
    disabled = await anonymous.get("/v1/projects/wk_legacy_0d3e8a/settings")
    error(disabled, 404, "writeKey", "source_disabled")


async def test_preflight_allows_what_the_browser_asks(gateway: Gateway) -> None:
    asked = "anonymousid, authorization, content-type, rsa-retry-attempt, sentat, x-retry-count"
    for path in ("/v1/track", "/v1/t", "/v1/batch", "/beacon/v1/batch", "/sourceConfig/"):
        preflight = await gateway.client.options(
            path,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": asked,
                "Access-Control-Request-Private-Network": "true",
            },
        )
        assert preflight.status_code == 204, path
        assert preflight.headers["access-control-allow-headers"] == asked
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["access-control-allow-private-network"] == "true"
    too_long = await gateway.client.options(
        "/v1/track",
        headers={"Origin": ORIGIN, "Access-Control-Request-Headers": "x-a," * 300},
    )
    error(too_long, 400, "Access-Control-Request-Headers", "cors_headers")
    assert "access-control-allow-origin" not in too_long.headers


async def test_allowed_origins(store: SQLiteStore) -> None:
    shop = "https://shop.example.com"
    sources = [
        SourceConfig(name="shop", write_key="wk_shop_1234", allowed_origins=[shop + "/"]),
        SourceConfig(
            name="blog", write_key="wk_blog_1234", allowed_origins=["https://blog.example.com"]
        ),
    ]
    app = GatewayApp(store, sources, Limits())
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        ok = await client.post(
            "/v1/track", json=EVENTS["track"], headers={**basic("wk_shop_1234"), "Origin": shop}
        )
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == shop
        other = await client.post(
            "/v1/track",
            json=EVENTS["track"],
            headers={**basic("wk_shop_1234"), "Origin": "https://blog.example.com"},
        )
        error(other, 403, "Origin", "cors_origin")
        server_side = await client.post(
            "/v1/track", json=EVENTS["track"], headers=basic("wk_shop_1234")
        )
        assert server_side.status_code == 200  # no Origin: not a browser, nothing to check
        # A preflight names no source: any source's origin passes, others are refused.
        passed = await client.options("/v1/track", headers={"Origin": "https://blog.example.com"})
        assert passed.status_code == 204
        refused = await client.options("/v1/track", headers={"Origin": "https://evil.example"})
        error(refused, 403, "Origin", "cors_origin")
        assert "access-control-allow-origin" not in refused.headers


async def test_refused_requests_are_counted_and_logged_at_most_once_per_interval(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    now = [1000.0]
    metrics = PrometheusGatewayMetrics(registry)
    app = GatewayApp(
        store, SOURCES, Limits(), metrics, refusals=Refusals(metrics, 60.0, lambda: now[0])
    )
    caplog.set_level(logging.WARNING, "csroute.gateway")
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        for _ in range(3):
            await client.post("/v1/x", json={})
        await client.post("/v1/track", json=EVENTS["track"], headers=basic("wk_nope_123456"))
        now[0] += 61
        await client.post("/v1/x", json={})

    def refused(reason: str) -> float | None:
        return registry.get_sample_value(
            "csroute_gateway_requests_refused_total", {"reason": reason}
        )

    assert refused("not_found") == 4 and refused("write_key") == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "csroute.gateway"]
    assert len(lines) == 3, lines  # not_found, write_key, not_found again after the interval
    assert "not_found" in lines[0] and "'/v1/x'" in lines[0]
    assert "unknown write key" in lines[1] and "wk_nope" not in lines[1]
    assert "2 more refused for not_found" in lines[2]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "csroute.gateway")
