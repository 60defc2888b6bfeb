"""@rudderstack/analytics-js and @segment/analytics-next, unmodified, in headless Chromium.

Each test loads an SDK in a page served from another origin than csroute, configured as
docs/ingestion.md shows (csroute serves the SDK's configuration too), makes the four calls
a web app makes (identify, group, track, page), and checks them in the store and in the
Custify sandbox. Every request the page makes must go to the page's origin or to csroute:
nothing is fetched from a vendor's CDN.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from browser_support import SHOP_KEY, WRITE_KEY, Pipeline
from playwright.sync_api import Browser, Page

from e2e.test_pipeline import wait_for

# The calls, as a web app writes them; each SDK returns a promise for each call (Segment's
# resolves once the event is handed to its delivery), awaited in order.
CALLS = """async user => {
  await analytics.identify(user, {email: `${user}@example.com`, name: `Person ${user}`});
  await analytics.group(`${user}-co`, {name: `Company of ${user}`});
  await analytics.track("Report Exported", {format: "csv"});
  await analytics.page("Docs", "Pricing", {path: "/pricing"});
}"""

SEGMENT_BATCHING = {"strategy": "batching", "config": {"size": 4, "timeout": 1000}}
# Nothing leaves the page before it is unloaded: the batch is large and its timer far away.
SEGMENT_HELD = {"strategy": "batching", "config": {"size": 100, "timeout": 600_000}}


class Session:
    """A page in its own browser context, recording what it requests and logs."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))

    def open(
        self,
        pipeline: Pipeline,
        sdk: str,
        options: dict[str, Any],
        write_key: str = WRITE_KEY,
        origin: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        query = urlencode(
            {
                "csroute": pipeline.csroute.url,
                "writeKey": write_key,
                "options": json.dumps(options),
                "settings": json.dumps(settings or {}),
            }
        )
        self.page.goto(f"{origin or pipeline.pages}/pages/{sdk}.html?{query}")

    def call(self, user: str) -> None:
        self.page.evaluate(CALLS, user)

    def check_requests(self, pipeline: Pipeline) -> None:
        """Only the page's origin and csroute were asked for anything; no error was logged."""
        # Playwright's sync API dispatches the page's events only while one of its calls
        # runs: a round trip to the page delivers every event the browser sent before it.
        self.page.evaluate("0")
        origins = (pipeline.pages + "/", pipeline.csroute.url + "/")
        assert [u for u in self.requests if not u.startswith(origins)] == []
        assert any(u.startswith(pipeline.csroute.url) for u in self.requests)
        assert self.errors == []

    def sent_to(self, pipeline: Pipeline) -> set[str]:
        """The csroute paths the page requested (preflights are not listed)."""
        self.page.evaluate("0")  # see check_requests
        prefix = pipeline.csroute.url
        return {u[len(prefix) :].split("?")[0] for u in self.requests if u.startswith(prefix)}


@pytest.fixture
def session(browser: Browser) -> Iterator[Session]:
    context = browser.new_context()
    try:
        yield Session(context.new_page())
    finally:
        context.close()


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


RUDDERSTACK_CONFIG = "/sourceConfig/"
SEGMENT_SETTINGS = f"/v1/projects/{WRITE_KEY}/settings"


@pytest.mark.parametrize(
    ("options", "paths"),
    [
        pytest.param({}, {"/v1/identify", "/v1/group", "/v1/track", "/v1/page"}, id="xhr"),
        pytest.param(
            {"queueOptions": {"batch": {"enabled": True, "maxItems": 4, "flushInterval": 1000}}},
            {"/v1/batch"},
            id="batch",
        ),
        pytest.param(
            {"useBeacon": True, "beaconQueueOptions": {"maxItems": 4, "flushQueueInterval": 1000}},
            {"/beacon/v1/batch"},  # navigator.sendBeacon, the write key in the query string
            id="beacon",
        ),
    ],
)
def test_rudderstack(
    pipeline: Pipeline, session: Session, user: str, options: dict[str, Any], paths: set[str]
) -> None:
    session.open(pipeline, "rudderstack", options)
    session.call(user)
    pipeline.wait_for_user(user)
    session.check_requests(pipeline)
    assert session.sent_to(pipeline) == {RUDDERSTACK_CONFIG, *paths}


@pytest.mark.parametrize(
    ("delivery", "paths"),
    [
        pytest.param(None, {"/v1/i", "/v1/g", "/v1/t", "/v1/p"}, id="standard"),
        pytest.param(SEGMENT_BATCHING, {"/v1/b"}, id="batching"),
    ],
)
def test_segment(
    pipeline: Pipeline,
    session: Session,
    user: str,
    delivery: dict[str, Any] | None,
    paths: set[str],
) -> None:
    options = {} if delivery is None else segment_io(deliveryStrategy=delivery)
    session.open(pipeline, "segment", options)
    session.call(user)
    pipeline.wait_for_user(user)
    session.check_requests(pipeline)
    assert session.sent_to(pipeline) == {SEGMENT_SETTINGS, *paths}


def test_segment_keepalive_on_page_unload(pipeline: Pipeline, session: Session, user: str) -> None:
    """The page is left with the events still in the SDK's buffer: they go out on the way
    out, in a ``keepalive`` request that outlives the page."""
    session.open(pipeline, "segment", segment_io(deliveryStrategy=SEGMENT_HELD))
    session.call(user)
    assert pipeline.stored(user) == []  # all four are held in the page
    assert session.sent_to(pipeline) == {SEGMENT_SETTINGS}
    session.page.goto(f"{pipeline.pages}/pages/left.html")
    pipeline.wait_for_user(user)
    session.check_requests(pipeline)


def segment_io(**settings: Any) -> dict[str, Any]:
    return {"integrations": {"Segment.io": settings}}


def test_allowed_origins(pipeline: Pipeline, browser: Browser) -> None:
    """A source with ``allowed_origins`` takes the SDK's events from a listed origin only.

    From another origin the SDK cannot even fetch its settings; given them inline, it posts
    the events, the preflight passes (another source allows any origin) and each event is
    refused with 403 and counted: nothing is stored.
    """
    allowed, refused = f"user-{uuid.uuid4().hex[:10]}", f"user-{uuid.uuid4().hex[:10]}"
    settings = httpx.get(f"{pipeline.csroute.url}/v1/projects/{SHOP_KEY}/settings").json()
    before = cors_refusals(pipeline)
    context = browser.new_context()
    try:
        session = Session(context.new_page())
        session.open(pipeline, "segment", {}, write_key=SHOP_KEY)
        session.call(allowed)
        wait_for(lambda: {e["type"] for e in pipeline.stored(allowed)} == set(TYPES))
        session.open(
            pipeline,
            "segment",
            {},
            write_key=SHOP_KEY,
            origin=pipeline.elsewhere,
            settings={"cdnSettings": settings},
        )
        # Not awaited: a refused event may be retried by the SDK before its call resolves.
        session.page.evaluate(f"user => {{ ({CALLS})(user); }}", refused)
        wait_for(lambda: cors_refusals(pipeline) >= before + len(TYPES))
    finally:
        context.close()
    assert pipeline.stored(refused) == []


TYPES = ("identify", "group", "track", "page")


def cors_refusals(pipeline: Pipeline) -> float:
    metrics = httpx.get(f"{pipeline.csroute.url}/metrics").text
    found = re.search(
        r'csroute_gateway_requests_refused_total\{reason="cors_origin"\} (\S+)', metrics
    )
    return float(found.group(1)) if found else 0.0
