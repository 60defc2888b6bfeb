"""Custify sandbox: Bearer auth, the per-key rate limit, injected faults and the admin endpoints,
over real HTTP. Time is a fake clock, so the rate-limit tests never sleep."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from csroute.custify.sandbox import create_app, running

KEY, OTHER_KEY, READ_ONLY = "sandbox-key-1", "sandbox-key-2", "reader-key"


DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)
"""A dropped connection reads as a close without an answer, or as a reset, by timing."""


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def base_url(clock: Clock) -> Iterator[str]:
    app = create_app(
        api_keys=[KEY, OTHER_KEY],
        read_only_keys=[READ_ONLY],
        rate_limit=(5, 10.0),
        request_log_size=8,
        clock=clock,
    )
    with running(app) as url:
        yield url


@pytest.fixture
def api(base_url: str, clock: Clock) -> Iterator[httpx.Client]:
    clock.now += 3600
    with httpx.Client(base_url=base_url, headers=auth()) as client:
        client.post("/__sandbox/reset").raise_for_status()
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        auth("wrong"),
        {"Authorization": KEY},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer"},
    ],
)
def test_requests_without_a_valid_bearer_key_get_401(
    api: httpx.Client, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{api.base_url}/people/all", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": "Access forbidden, invalid API-KEY was used",
        "message": "Access forbidden, invalid API-KEY was used",
    }
    assert api.get("/people/all").status_code == 200
    assert (
        api.get("/people/all", headers={"Authorization": f"bearer {OTHER_KEY}"}).status_code == 200
    )


def test_read_only_keys_cannot_write(api: httpx.Client) -> None:
    assert api.get("/people/all", headers=auth(READ_ONLY)).status_code == 200
    denied = api.post("/people", json={"user_id": "u1"}, headers=auth(READ_ONLY))
    assert denied.status_code == 403 and denied.json()["error"]
    assert api.get("/__sandbox/state").json()["people"] == []


def test_rate_limit_per_key_with_headers_and_reset(api: httpx.Client, clock: Clock) -> None:
    for n in range(5):
        ok = api.post("/people", json={"user_id": f"u{n}"}) if n % 2 else api.get("/people/all")
        assert ok.status_code == 200
        assert "X-RateLimit-Limit" not in ok.headers
    clock.now += 4
    limited = api.get("/people/all")
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == "5"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Retry-After"] == "6"
    assert limited.json()["error"]
    assert api.post("/people", json={"user_id": "late"}).status_code == 429
    assert api.get("/people/all", headers=auth(OTHER_KEY)).status_code == 200
    clock.now += 6
    for _ in range(5):
        assert api.get("/people/all").status_code == 200
    assert api.get("/people/all").status_code == 429
    counts = api.get("/__sandbox/state", params={"summary": "1"}).json()["requests"]
    assert (counts["429"], counts["200"], counts["total"]) == (3, 11, 14)
    assert api.get("/people", params={"user_id": "late"}).status_code == 429


def test_admin_endpoints_need_no_key_and_use_no_quota(api: httpx.Client) -> None:
    with httpx.Client(base_url=api.base_url) as anonymous:
        for _ in range(20):
            assert anonymous.get("/__sandbox/state").status_code == 200
    assert api.get("/people/all").status_code == 200
    assert api.get("/__sandbox/state").json()["requests"]["total"] == 1


def test_error_fault_answers_without_applying(api: httpx.Client) -> None:
    api.post("/__sandbox/faults", json={"error_rate": 1.0}).raise_for_status()
    failed = api.post("/people", json={"user_id": "u1"})
    assert failed.status_code == 500 and failed.json()["message"] == "Some other error occurred"
    api.post("/__sandbox/faults", json={"error_rate": 1.0, "status": 503}).raise_for_status()
    assert api.get("/people/all").status_code == 503
    api.delete("/__sandbox/faults").raise_for_status()
    assert api.get("/people", params={"user_id": "u1"}).json() == []


def test_injected_429_carries_the_rate_limit_headers(api: httpx.Client) -> None:
    api.post("/__sandbox/faults", json={"rate_limit_429_rate": 1.0}).raise_for_status()
    limited = api.get("/people/all")
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == "5"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["Retry-After"]) >= 1


def test_times_limits_how_many_requests_fail(api: httpx.Client) -> None:
    api.post("/__sandbox/faults", json={"error_rate": 1.0, "times": 2}).raise_for_status()
    statuses = [api.get("/people/all").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert api.get("/__sandbox/faults").json()["injected"] == 2


def test_a_script_answers_the_next_requests_in_order(api: httpx.Client) -> None:
    script = [599, 503, 429, "ok", "drop"]
    api.put("/__sandbox/faults", json={"script": script}).raise_for_status()
    assert api.get("/__sandbox/faults").json()["script"] == script
    unusual = api.get("/people/all")
    assert (unusual.status_code, unusual.json()["error"]) == (599, "Injected error 599")
    assert api.post("/people", json={"user_id": "u1"}).status_code == 503
    limited = api.get("/people/all")
    assert limited.status_code == 429 and limited.headers["X-RateLimit-Remaining"] == "0"
    assert api.post("/people", json={"user_id": "u2"}).status_code == 200
    with pytest.raises(DROPPED):
        api.get("/people/all")
    assert api.get("/people/all").json()[0]["total"] == 1
    faults = api.get("/__sandbox/faults").json()
    assert (faults["script"], faults["injected"]) == ([], 4)


def test_latency_fault_delays_the_answer(api: httpx.Client) -> None:
    api.post("/__sandbox/faults", json={"latency_ms": 60}).raise_for_status()
    assert api.get("/people/all").status_code == 200
    [entry] = api.get("/__sandbox/requests").json()["requests"]
    assert entry["duration_ms"] >= 60


def test_drop_before_closes_the_connection_and_applies_nothing(api: httpx.Client) -> None:
    api.post("/__sandbox/faults", json={"drop_rate": 1.0}).raise_for_status()
    with pytest.raises(DROPPED):
        api.post("/people", json={"user_id": "u1"})
    api.delete("/__sandbox/faults").raise_for_status()
    assert api.get("/people", params={"user_id": "u1"}).json() == []
    log = api.get("/__sandbox/requests").json()["requests"]
    assert (log[0]["fault"], log[0]["status"]) == ("drop", None)


def test_drop_after_applies_the_request_but_loses_the_answer(api: httpx.Client) -> None:
    api.post("/__sandbox/faults", json={"drop_rate": 1.0, "drop_phase": "after"}).raise_for_status()
    with pytest.raises(DROPPED):
        api.post("/people", json={"user_id": "u1"})
    api.delete("/__sandbox/faults").raise_for_status()
    assert api.get("/people", params={"user_id": "u1"}).json()[0]["total"] == 1
    assert api.get("/__sandbox/state").json()["requests"]["dropped"] == 1


@pytest.mark.parametrize(
    "config",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "drop_rate": 0.6},
        {"status": 200},
        {"jitter": 1},
        {"script": [200]},
        {"script": ["later"]},
    ],
)
def test_invalid_fault_configurations_are_rejected(
    api: httpx.Client, config: dict[str, Any]
) -> None:
    response = api.post("/__sandbox/faults", json=config)
    assert (
        response.status_code == 400 and "Invalid fault configuration" in response.json()["message"]
    )
    assert api.get("/__sandbox/faults").json()["error_rate"] == 0


def test_reset_forgets_records_counters_and_faults(api: httpx.Client) -> None:
    api.post("/people", json={"user_id": "u1"})
    api.post("/__sandbox/faults", json={"error_rate": 0.5})
    api.post("/__sandbox/reset").raise_for_status()
    state = api.get("/__sandbox/state").json()
    assert state["counts"]["people"] == 0 and state["requests"] == {}
    assert api.get("/__sandbox/faults").json()["error_rate"] == 0
    assert api.get("/__sandbox/requests").json()["requests"] == []


def test_request_log_is_bounded_and_masks_keys(api: httpx.Client) -> None:
    for n in range(10):
        api.get(f"/people/{n}", headers=auth(KEY if n % 2 else OTHER_KEY))
    log = api.get("/__sandbox/requests").json()["requests"]
    assert [entry["path"] for entry in log] == [f"/people/{n}" for n in range(2, 10)]
    assert all(
        entry["status"] == 404 and KEY not in str(entry) and OTHER_KEY not in str(entry)
        for entry in log
    )
    assert len(api.get("/__sandbox/requests", params={"limit": 3}).json()["requests"]) == 3


def test_unknown_paths_answer_in_custify_error_shape(api: httpx.Client) -> None:
    response = api.get("/no-such-resource")
    assert response.status_code == 404 and set(response.json()) == {"error", "message"}
    assert api.put("/people", json={}).status_code == 405
