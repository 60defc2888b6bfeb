"""Real SDK → ``csroute serve`` → Kustomer sandbox: timelines, consent gating, explained errors."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rudderstack.analytics.client import Client as RudderClient

from csroute.kustomer.sandbox import running
from support.process import CSROUTE, CsrouteProcess

WRITE_KEY = "kustomer-write-key-01"


def consent(allowed: list[str], denied: list[str]) -> dict[str, Any]:
    """A fresh context each call: the SDK writes into the context it is given."""
    ids = {"allowedConsentIds": allowed, "deniedConsentIds": denied}
    return {"consentManagement": {"provider": "custom", "resolutionStrategy": "and", **ids}}


def granted() -> dict[str, Any]:
    return consent(["marketing"], [])


def denied() -> dict[str, Any]:
    return consent([], ["marketing"])


@pytest.fixture
def sandbox() -> Iterator[str]:
    keys = {"sandbox-key": {"org.tracking"}, "no-role-key": {"org.permission.customer.read"}}
    with running(org_name="acme", api_keys=keys, rate_limit_per_minute=None) as url:
        yield url


def config(sandbox: str, **settings: Any) -> dict[str, Any]:
    kustomer = {"org_name": "acme", "api_key": "sandbox-key", "base_url": sandbox, **settings}
    return {
        "sources": [{"name": "app", "write_key": WRITE_KEY}],
        "destinations": [{"name": "kustomer", "type": "kustomer", "settings": kustomer,
                          "consent": ["marketing"],
                          "filters": {"event_types": {"allow": ["identify", "track", "page"]}}}],
        "connections": [{"source": "app", "destinations": ["kustomer"]}],
        "delivery": {"backoff_base_s": 0.05, "backoff_max_s": 0.2, "max_attempts": 2,
                     "max_retry_age_s": 0},
    }  # fmt: skip


def sdk(csroute: CsrouteProcess, errors: list[Any]) -> RudderClient:
    return RudderClient(WRITE_KEY, host=csroute.url, on_error=lambda e, b: errors.append(e))


def cli(csroute: CsrouteProcess, *args: str) -> str:
    command = [*CSROUTE, *args, "--config", str(csroute.config_path)]
    done = subprocess.run(command, cwd=csroute.workdir, capture_output=True, text=True, check=True)
    return done.stdout


def status(csroute: CsrouteProcess) -> dict[str, Any]:
    return json.loads(cli(csroute, "status", "--json"))["kustomer"]  # type: ignore[no-any-return]


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


def landed(sandbox: str) -> dict[str, Any]:
    return httpx.get(f"{sandbox}/__sandbox/state").json()  # type: ignore[no-any-return]


def test_sdk_events_reach_the_right_timelines_and_unconsented_ones_never_leave(
    tmp_path: Path, sandbox: str
) -> None:
    csroute = CsrouteProcess(tmp_path, config(sandbox)).start()
    errors: list[Any] = []
    try:
        client = sdk(csroute, errors)
        client.identify("user-1", {"email": " Ada@Example.com", "name": "Ada"}, context=granted())
        client.track("user-1", "Order Completed", {"order_id": "O-1", "revenue": 42.5},
                     context=granted(), anonymous_id="anon-1")  # fmt: skip
        client.track("user-1", "Product Viewed", {"sku": "S-1"}, context=denied())
        client.track("user-1", "Product Added", {"sku": "S-2"})  # no consent data at all
        client.page("user-1", "Docs", "Pricing", context=granted())
        client.identify("user-2", {"email": "bo@example.com"}, context=denied())
        client.track("user-2", "Signed Up", {}, context=granted())
        client.flush()
        client.join()
        wait_for(lambda: (s := status(csroute))["delivered"] + s["filtered"] >= 7)
        report = status(csroute)
    finally:
        csroute.stop()
    assert errors == []
    assert report["delivered"] == 4
    assert report["filtered"] == 3
    assert report["filtered_by_reason"] == {
        "consent: category 'marketing' denied": 2,
        "consent: missing category 'marketing'": 1,
    }
    state = landed(sandbox)
    customers = {c["externalId"]: c for c in state["customers"]}
    assert set(customers) == {"user-1", "user-2"}
    ada = customers["user-1"]
    assert [e["email"] for e in ada["emails"]] == ["ada@example.com"]
    assert ada["name"] == "Ada"
    timeline = [(e["attributes"]["name"], e["attributes"]["meta"]) for e in ada["events"]]
    assert [name for name, _ in timeline] == ["Identified", "Order Completed", "Page Viewed"]
    order = timeline[1][1]
    assert (order["orderId"], order["revenueNum"]) == ("O-1", 42.5)
    assert order["anonymousId"] == "anon-1"
    assert order["occurredAt"]
    # user-2's identify was filtered, so the email never reached Kustomer: matched by user id.
    bo = customers["user-2"]
    assert bo["emails"] == []
    assert [e["attributes"]["name"] for e in bo["events"]] == ["Signed Up"]
    sent = httpx.get(f"{sandbox}/__sandbox/requests").json()["data"]
    assert len(sent) == 4
    assert "Product Viewed" not in str(sent) and "Product Added" not in str(sent)


@pytest.mark.parametrize(
    ("settings", "faults", "status_code", "words"),
    [
        ({"api_key": "wrong-key"}, [], 401, "wrong, expired or revoked"),
        ({"api_key": "no-role-key"}, [], 403, "lacks the org.tracking role"),
        ({}, [404], 404, "org_name must be your Kustomer subdomain"),
        ({}, [503, 503, 503, 503], 503, "retried with backoff"),
    ],
)
def test_sandbox_errors_end_as_explained_dead_letters(
    tmp_path: Path,
    sandbox: str,
    settings: dict[str, Any],
    faults: list[int],
    status_code: int,
    words: str,
) -> None:
    httpx.put(f"{sandbox}/__sandbox/faults", json={"script": faults})
    csroute = CsrouteProcess(tmp_path, config(sandbox, **settings)).start()
    errors: list[Any] = []
    try:
        client = sdk(csroute, errors)
        client.track("user-1", "Order Completed", {"revenue": 1}, context=granted())
        client.flush()
        client.join()
        wait_for(lambda: status(csroute)["dead"] >= 1)
        letters = [json.loads(line) for line in cli(csroute, "dlq", "list", "--json").splitlines()]
    finally:
        csroute.stop()
    assert errors == []
    [letter] = letters
    assert letter["status"] == status_code
    assert words in letter["error"]
    assert "wrong-key" not in letter["error"] and "sandbox-key" not in letter["error"]
    assert landed(sandbox)["customers"] == []


def test_a_throttled_event_is_retried_and_delivered(tmp_path: Path) -> None:
    with running(org_name="acme", retry_after=True) as sandbox:
        httpx.put(f"{sandbox}/__sandbox/faults", json={"script": [429]})
        statuses = deliver_one(tmp_path, sandbox)
    assert statuses == [429, 201]


def deliver_one(tmp_path: Path, sandbox: str) -> list[int]:
    """Send one consented event through csroute; the statuses the sandbox answered, in order."""
    csroute = CsrouteProcess(tmp_path, config(sandbox)).start()
    try:
        client = sdk(csroute, [])
        client.track("user-1", "Order Completed", {"revenue": 1}, context=granted())
        client.flush()
        client.join()
        wait_for(lambda: status(csroute)["delivered"] >= 1, timeout=120)
    finally:
        csroute.stop()
    return [r["status"] for r in httpx.get(f"{sandbox}/__sandbox/requests").json()["data"]]
