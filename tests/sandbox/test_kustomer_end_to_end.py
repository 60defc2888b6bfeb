"""The destination's requests, performed against the sandbox, land where a user expects them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from csroute.destinations.base import Rejection
from csroute.destinations.kustomer import TYPE
from csroute.destinations.kustomer.settings import Settings
from csroute.kustomer.sandbox import Rules, running


@pytest.fixture
def sandbox() -> Iterator[str]:
    with running(org_name="acme", api_keys={"k-1": {"org.tracking"}, "k-ro": {"x"}}) as url:
        yield url


def settings(url: str, **overrides: Any) -> Settings:
    return msgspec.convert({"org_name": "acme", "api_key": "k-1", "base_url": url, **overrides},
                           Settings)  # fmt: skip


def deliver(
    event: dict[str, Any], config: Settings, traits: dict[str, Any] | None = None
) -> httpx.Response:
    """What the router does with one event: transform, then perform each request."""
    requests = TYPE.transform(event, config, traits or {})
    assert not isinstance(requests, Rejection), requests
    [request] = requests
    return httpx.request(request.method, request.url, headers=dict(request.headers),
                         params=dict(request.params), json=request.body)  # fmt: skip


def base(kind: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "messageId": f"m{n}", "anonymousId": "anon-1",
            "timestamp": f"2026-06-06T10:00:0{n}Z", **fields}  # fmt: skip


def test_events_land_on_the_right_timelines_with_the_right_names_and_meta(sandbox: str) -> None:
    config = settings(sandbox)
    jane = {"email": "Jane.Doe@Example.com", "name": "Jane Doe"}
    answers = [
        deliver(base("identify", 1, userId="user-123", traits=jane), config),
        deliver(base("page", 2, userId="user-123", name="Pricing",
                     properties={"path": "/pricing"}), config, jane),
        deliver(base("track", 3, userId="user-123", event="Order Completed",
                     properties={"order_id": "ORD-001", "revenue": 129.99, "currency": "USD",
                                 "shipping": {"method": "express", "cost": 4.99}}),
                config, jane),
        # Another person, known only by user id: a second customer.
        deliver(base("track", 4, userId="user-456", event="Trial Started",
                     anonymousId="anon-2", properties={"plan": "pro", "seats": 3}), config),
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [201, 201, 201, 201]
    customers = {c["externalId"]: c for c in httpx.get(f"{sandbox}/__sandbox/state").json()[
        "customers"]}  # fmt: skip
    assert set(customers) == {"user-123", "user-456"}
    jane_record = customers["user-123"]
    assert jane_record["name"] == "Jane Doe"
    assert [e["email"] for e in jane_record["emails"]] == ["jane.doe@example.com"]
    timeline = [(e["attributes"]["name"], e["attributes"]["meta"]) for e in jane_record["events"]]
    assert timeline == [
        ("Identified", {"anonymousId": "anon-1", "occurredAt": "2026-06-06T10:00:01Z"}),
        ("Page Viewed", {"path": "/pricing", "anonymousId": "anon-1",
                         "occurredAt": "2026-06-06T10:00:02Z"}),
        ("Order Completed", {"orderId": "ORD-001", "revenueNum": 129.99, "currency": "USD",
                             "shippingMethod": "express", "shippingCostNum": 4.99,
                             "anonymousId": "anon-1", "occurredAt": "2026-06-06T10:00:03Z"}),
    ]  # fmt: skip
    [trial] = customers["user-456"]["events"]
    assert trial["attributes"]["name"] == "Trial Started"
    assert trial["attributes"]["meta"]["seatsNum"] == 3


def test_the_customer_is_matched_by_email_before_user_id(sandbox: str) -> None:
    """An email identified first keeps its customer when a user id shows up later."""
    config = settings(sandbox)
    deliver(base("track", 1, event="Signed Up", context={"traits": {"email": "v@x.io"}}), config)
    deliver(base("track", 2, userId="u-9", event="Logged In"), config, {"email": "V@x.io"})
    [customer] = httpx.get(f"{sandbox}/__sandbox/state").json()["customers"]
    assert customer["externalId"] == "u-9"
    assert [e["attributes"]["name"] for e in customer["events"]] == ["Signed Up", "Logged In"]


def test_dashed_names_are_accepted_by_a_sandbox_that_refuses_spaces() -> None:
    with running(org_name="acme", api_keys={"k-1": {"org.tracking"}},
                 rules=Rules(reject_spaces_in_names=True)) as url:  # fmt: skip
        event = base("track", 1, userId="u1", event="Order Completed")
        assert deliver(event, settings(url)).status_code == 400
        dashed = deliver(event, settings(url, event_name_whitespace="dash"))
        assert dashed.status_code == 201
        [customer] = httpx.get(f"{url}/__sandbox/state").json()["customers"]
        assert customer["events"][0]["attributes"]["name"] == "Order-Completed"


@pytest.mark.parametrize(
    ("config", "fault", "status", "words"),
    [
        ({"api_key": "wrong"}, None, 401, "wrong, expired or revoked"),
        ({"api_key": "k-ro"}, None, 403, "lacks the org.tracking role"),
        ({}, 404, 404, "org_name must be your Kustomer subdomain"),
        ({}, 429, 429, "rate_limit_per_minute"),
        ({}, 503, 503, "retried with backoff"),
    ],
)
def test_sandbox_errors_are_explained(
    sandbox: str, config: dict[str, Any], fault: int | None, status: int, words: str
) -> None:
    if fault is not None:
        httpx.put(f"{sandbox}/__sandbox/faults", json={"script": [fault]})
    current = settings(sandbox, **config)
    response = deliver(base("track", 1, userId="u1", event="X"), current)
    assert response.status_code == status
    delivery = TYPE.delivery(current)
    assert delivery.retryable(status) is (status in (429, 503))
    assert delivery.explain is not None
    assert words in delivery.explain(status, response.content)


def test_a_wrong_org_host_is_explained(sandbox: str) -> None:
    config = settings(sandbox)
    requests = TYPE.transform(base("track", 1, userId="u1", event="X"), config, {})
    assert isinstance(requests, list)
    wrong_org = {**requests[0].headers, "Host": "acne.api.kustomerapp.com"}
    response = httpx.post(requests[0].url, json=requests[0].body, headers=wrong_org)
    assert response.status_code == 404
    explain = TYPE.delivery(config).explain
    assert explain is not None
    assert "org_name must be your Kustomer subdomain" in explain(404, response.content)


def test_a_meta_key_broken_by_hand_is_named_from_the_sandboxs_400(sandbox: str) -> None:
    response = httpx.post(f"{sandbox}/v1/tracking/identityEvent",
                          headers={"Authorization": "Bearer k-1"},
                          json={"identity": {"externalId": "u1"},
                                "event": {"name": "X", "meta": {"revenue": 5}}})  # fmt: skip
    assert response.status_code == 400
    explain = TYPE.delivery(settings(sandbox)).explain
    assert explain is not None
    assert "the meta key 'revenue' breaks its naming rules" in explain(400, response.content)
