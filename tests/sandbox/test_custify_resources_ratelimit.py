"""Custify sandbox: every resource added for the full API passes the shared gate: Bearer auth and
one per-key rate limit that reads, writes and rejected requests all count against. Time is a fake
clock, so nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from custify_helpers import AUTH, Clock

from csroute.custify.sandbox import create_app, running

LIMIT = 3
ENDPOINTS = [
    ("GET", "/tag"),
    ("PATCH", "/tag/entity"),
    ("POST", "/people/tag"),
    ("GET", "/note"),
    ("POST", "/note"),
    ("GET", "/ticket"),
    ("PUT", "/ticket/T-1"),
    ("GET", "/task"),
    ("GET", "/task/filtersAvailableValues"),
    ("GET", "/comment/Note/5b9f95d838ab5e09b8ed66cb"),
    ("GET", "/file?companyId=5b9f95d838ab5e09b8ed66cb"),
    ("POST", "/file"),
    ("POST", "/nps_score"),
    ("POST", "/csat_score"),
    ("GET", "/financial/deal"),
    ("POST", "/financial/subscription"),
    ("GET", "/time-track"),
    ("GET", "/time_track"),
    ("GET", "/custom_data/companies?company_id=acme"),
    ("GET", "/calendar/meeting"),
    ("GET", "/survey"),
    ("GET", "/health_score"),
    ("GET", "/calculated_metric"),
    ("GET", "/segment"),
    ("GET", "/lifecycle"),
    ("GET", "/playbook"),
    ("GET", "/objective?company_id=acme"),
    ("GET", "/company/people/5b9f95d838ab5e09b8ed66cb"),
]


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def base_url(clock: Clock) -> Iterator[str]:
    with running(create_app(rate_limit=(LIMIT, 10.0), clock=clock)) as url:
        yield url


@pytest.fixture
def api(base_url: str, clock: Clock) -> Iterator[httpx.Client]:
    clock.now += 3600  # a fresh window for every test
    with httpx.Client(base_url=base_url, headers=AUTH) as client:
        client.post("/__sandbox/reset").raise_for_status()
        yield client


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_resource_needs_a_key_and_counts_against_the_limit(
    api: httpx.Client, clock: Clock, method: str, path: str
) -> None:
    assert httpx.request(method, f"{api.base_url}{path}").status_code == 401
    answers = [api.request(method, path, json={}).status_code for _ in range(LIMIT)]
    assert all(status < 500 and status not in (401, 429) for status in answers), answers
    limited = api.request(method, path, json={})
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == str(LIMIT)
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    clock.now += int(limited.headers["Retry-After"])
    assert api.request(method, path, json={}).status_code != 429


def test_all_resources_share_one_budget(api: httpx.Client) -> None:
    for method, path in ENDPOINTS[:LIMIT]:
        assert api.request(method, path, json={}).status_code != 429
    for method, path in ENDPOINTS[LIMIT:]:
        assert api.request(method, path, json={}).status_code == 429
    assert (
        api.get("/__sandbox/state", params={"summary": "1"}).json()["requests"]["429"]
        == len(ENDPOINTS) - LIMIT
    )
