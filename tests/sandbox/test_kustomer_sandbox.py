"""The Kustomer sandbox over real HTTP: gates, find-or-create, timelines, rate limit, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from csroute.kustomer.sandbox import Rules, running

KEY = {"Authorization": "Bearer sandbox-key"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> Iterator[httpx.Client]:
    keys = {"sandbox-key": {"org.tracking", "org.permission.customer.read",
                            "org.permission.event.read"},
            "reader": {"org.permission.customer.read"},
            "eu-key": {"org.tracking"}}  # fmt: skip
    options: dict[str, Any] = {"org_name": "acme", "api_keys": keys, "rate_limit_per_minute": 50,
                               "foreign_pod_keys": {"eu-key"}, "clock": clock}  # fmt: skip
    with running(**options) as url, httpx.Client(base_url=url, timeout=5) as c:
        yield c


def identity_event(identity: dict[str, Any], name: str = "Order Completed", **meta: Any) -> Any:
    return {"identity": identity, "event": {"name": name, "meta": meta}}


def post(client: httpx.Client, path: str, body: Any, **headers: str) -> httpx.Response:
    return client.post(path, json=body, headers={**KEY, **headers})


def state(client: httpx.Client) -> Any:
    return client.get("/__sandbox/state").json()


def test_identity_event_creates_the_customer_and_records_the_event(client: httpx.Client) -> None:
    body = identity_event(
        {"email": "jane@example.com", "externalId": "u1", "name": "Jane"},
        orderId="ORD-1",
        revenueNum=129.99,
        occurredAt="2026-06-06T10:00:00Z",
    )
    response = post(client, "/v1/tracking/identityEvent", body)
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["attributes"]["email"] == "jane@example.com"
    assert data["attributes"]["status"] == "identified"
    assert data["relationships"]["org"]["data"]["type"] == "org"
    customer_id = data["relationships"]["customer"]["data"]["id"]
    [customer] = state(client)["customers"]
    assert customer["id"] == customer_id
    assert customer["name"] == "Jane"
    assert customer["externalId"] == "u1"
    [event] = customer["events"]
    assert event["type"] == "customer_event"
    assert event["attributes"]["name"] == "Order Completed"
    assert event["attributes"]["meta"] == {"orderId": "ORD-1", "revenueNum": 129.99,
                                           "occurredAt": "2026-06-06T10:00:00Z"}  # fmt: skip


def test_lookups_by_email_and_external_id(client: httpx.Client) -> None:
    post(
        client,
        "/v1/tracking/identityEvent",
        identity_event({"email": "a@x.io", "externalId": "u1"}),
    )
    by_email = client.get("/v1/customers/email=a@x.io", headers=KEY)
    by_external = client.get("/v1/customers/externalId=u1", headers=KEY)
    assert by_email.status_code == by_external.status_code == 200
    assert by_email.json()["data"]["id"] == by_external.json()["data"]["id"]
    assert by_email.json()["data"]["type"] == "customer"
    assert by_email.json()["data"]["attributes"]["emails"][0]["email"] == "a@x.io"
    missing = client.get("/v1/customers/email=nobody@x.io", headers=KEY)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["status"] == "404"
    events = client.get("/v1/customers/externalId=u1/events", headers=KEY).json()
    assert events["meta"]["total"] == 1
    assert events["data"][0]["attributes"]["name"] == "Order Completed"


def test_find_or_create_matches_email_first_then_external_id(client: httpx.Client) -> None:
    post(client, "/v1/tracking/identityEvent", identity_event({"email": "a@x.io"}, "One"))
    post(client, "/v1/tracking/identityEvent", identity_event({"externalId": "u2"}, "Two"))
    # Email matches the first customer although the externalId belongs to the second.
    post(client, "/v1/tracking/identityEvent",
         identity_event({"email": "A@X.io", "externalId": "u2"}, "Three"))  # fmt: skip
    # No email: the externalId decides.
    post(client, "/v1/tracking/identityEvent", identity_event({"externalId": "u2"}, "Four"))
    # Neither known: a new customer.
    post(client, "/v1/tracking/identityEvent", identity_event({"email": "b@x.io"}, "Five"))
    customers = state(client)["customers"]
    timelines = {(c["emails"][0]["email"] if c["emails"] else c["externalId"]):
                 [e["attributes"]["name"] for e in c["events"]] for c in customers}  # fmt: skip
    assert timelines == {"a@x.io": ["One", "Three"], "u2": ["Two", "Four"], "b@x.io": ["Five"]}
    first = next(c for c in customers if c["emails"] and c["emails"][0]["email"] == "a@x.io")
    assert first["externalId"] is None  # u2 already belongs to another customer


def test_a_matched_customer_gains_missing_identifiers(client: httpx.Client) -> None:
    post(client, "/v1/tracking/identityEvent", identity_event({"externalId": "u3"}, "One"))
    post(client, "/v1/tracking/identityEvent",
         identity_event({"externalId": "u3", "email": "c@x.io", "name": "Cy"}, "Two"))  # fmt: skip
    [customer] = state(client)["customers"]
    assert customer["name"] == "Cy"
    assert [e["email"] for e in customer["emails"]] == ["c@x.io"]


def test_anonymous_events_join_the_timeline_once_identified(client: httpx.Client) -> None:
    response = post(client, "/v1/tracking/event", {"name": "Page Viewed", "trackingId": "t-1"})
    assert response.status_code == 204
    assert response.content == b""
    assert state(client)["anonymous"][0]["trackingId"] == "t-1"
    identity = post(client, "/v1/tracking/identity", {"trackingId": "t-1", "email": "d@x.io"})
    assert identity.status_code == 201
    assert identity.json()["data"]["attributes"]["trackingId"] == "t-1"
    post(client, "/v1/tracking/event", {"name": "Logged In", "trackingId": "t-1"})
    snapshot = state(client)
    assert snapshot["anonymous"] == []
    [customer] = snapshot["customers"]
    assert [e["attributes"]["name"] for e in customer["events"]] == ["Page Viewed", "Logged In"]


def test_missing_or_unknown_key_is_401(client: httpx.Client) -> None:
    body = identity_event({"email": "a@x.io"})
    assert client.post("/v1/tracking/identityEvent", json=body).status_code == 401
    wrong = client.post("/v1/tracking/identityEvent", json=body,
                        headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["code"] == "unauthorized"
    assert state(client)["customers"] == []


def test_key_from_another_region_is_401_with_the_pod_message(client: httpx.Client) -> None:
    response = post(client, "/v1/tracking/identityEvent", identity_event({"email": "a@x.io"}),
                    Authorization="Bearer eu-key")  # fmt: skip
    assert response.status_code == 401
    assert "being handled by" in response.json()["errors"][0]["detail"]


def test_key_without_the_tracking_role_is_403(client: httpx.Client) -> None:
    response = post(client, "/v1/tracking/identityEvent", identity_event({"email": "a@x.io"}),
                    Authorization="Bearer reader")  # fmt: skip
    assert response.status_code == 403
    assert "org.tracking" in response.json()["errors"][0]["detail"]
    assert client.get("/v1/customers/email=a@x.io",
                      headers={"Authorization": "Bearer reader"}).status_code == 404  # fmt: skip


def test_org_host_check(client: httpx.Client) -> None:
    body = identity_event({"email": "a@x.io"})
    wrong = post(client, "/v1/tracking/identityEvent", body, Host="acmee.api.kustomerapp.com")
    assert wrong.status_code == 404
    assert "acmee" in wrong.json()["errors"][0]["detail"]
    assert post(client, "/v1/tracking/identityEvent", body,
                Host="acme.api.kustomerapp.com").status_code == 201  # fmt: skip
    assert post(client, "/v1/tracking/identityEvent", body,
                Host="acme.localhost:8092").status_code == 201  # fmt: skip
    assert post(client, "/v1/tracking/identityEvent", body,
                Host="api.prod2.kustomerapp.com").status_code == 201  # fmt: skip


@pytest.mark.parametrize(
    ("event", "pointer", "words"),
    [
        ({"name": "X", "meta": {"revenue": 3}}, "/event/meta/revenue", "ending in Num"),
        ({"name": "X", "meta": {"codeNum": "A"}}, "/event/meta/codeNum", "must not be under"),
        ({"name": "X", "meta": {"shipped": "2026-06-06T10:00:00Z"}}, "/event/meta/shipped",
         "ending in At"),
        ({"name": "X", "meta": {"cart": {"a": 1}}}, "/event/meta/cart", "must be flat"),
        ({"name": "X", "meta": {"tags": ["a"]}}, "/event/meta/tags", "must be flat"),
        ({"name": "X", "meta": {"gift": True}}, "/event/meta/gift", "booleans"),
        ({"name": "1st", "meta": {}}, "/event/name", "start with a letter"),
        ({"meta": {}}, "/event/name", "required"),
    ],
)  # fmt: skip
def test_meta_and_name_rules_answer_400_naming_the_key(
    client: httpx.Client, event: dict[str, Any], pointer: str, words: str
) -> None:
    response = post(client, "/v1/tracking/identityEvent", {"identity": {"email": "a@x.io"},
                                                           "event": event})  # fmt: skip
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == "bad_request"
    assert error["source"]["pointer"] == pointer
    assert words in error["detail"]
    key = pointer.rsplit("/", 1)[1]
    if pointer.startswith("/event/meta/"):
        assert repr(key) in error["detail"]
    assert state(client)["customers"] == []


def test_switchable_rules() -> None:
    strict = Rules(reject_spaces_in_names=True, date_time_needs_at=False, allow_booleans=True)
    body = identity_event({"email": "a@x.io"}, "Order Completed")
    lenient = identity_event({"email": "a@x.io"}, "Order-Completed", gift=True,
                             shipped="2026-06-06T10:00:00Z")  # fmt: skip
    with running(rules=strict) as url, httpx.Client(base_url=url) as c:
        spaced = c.post("/v1/tracking/identityEvent", json=body, headers=KEY)
        assert spaced.status_code == 400
        assert "must not contain spaces" in spaced.json()["errors"][0]["detail"]
        assert c.post("/v1/tracking/identityEvent", json=lenient, headers=KEY).status_code == 201


def test_identity_event_needs_both_members(client: httpx.Client) -> None:
    assert post(client, "/v1/tracking/identityEvent", {"event": {"name": "X"}}).status_code == 400
    response = client.post("/v1/tracking/identityEvent", content=b"{", headers=KEY)
    assert response.status_code == 400


def test_rate_limit_headers_and_429(client: httpx.Client, clock: Clock) -> None:
    client.put("/__sandbox/rate_limit", json={"per_minute": 3})
    answers = [post(client, "/v1/tracking/identityEvent", identity_event({"email": "a@x.io"}))
               for _ in range(4)]  # fmt: skip
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["x-ratelimit-limit"] == "3" for a in answers)
    assert answers[0].headers["x-ratelimit-reset"] == str(int(clock.now) + 60)
    assert "retry-after" not in answers[3].headers
    assert answers[3].json()["errors"][0]["status"] == "429"
    # Lookups spend the same org budget.
    assert client.get("/v1/customers/email=a@x.io", headers=KEY).status_code == 429
    clock.now += 60
    fresh = post(client, "/v1/tracking/identityEvent", identity_event({"email": "a@x.io"}))
    assert fresh.status_code == 201
    assert fresh.headers["x-ratelimit-remaining"] == "2"
    snapshot = state(client)
    assert len(snapshot["customers"][0]["events"]) == 4
    assert snapshot["rate_limit"]["rejected"] == 2
    assert snapshot["statuses"] == {"201": 4, "429": 2}


def test_retry_after_on_429_when_asked() -> None:
    with running(rate_limit_per_minute=1, retry_after=True) as url, httpx.Client(base_url=url) as c:
        body = identity_event({"email": "a@x.io"})
        c.post("/v1/tracking/identityEvent", json=body, headers=KEY)
        limited = c.post("/v1/tracking/identityEvent", json=body, headers=KEY)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_scripted_faults_then_normal_service(client: httpx.Client) -> None:
    faults = client.put("/__sandbox/faults", json={"script": [503, 429, 500]})
    assert faults.json()["script"] == [503, 429, 500]
    body = identity_event({"email": "a@x.io"})
    statuses = [post(client, "/v1/tracking/identityEvent", body).status_code for _ in range(4)]
    assert statuses == [503, 429, 500, 201]
    assert len(state(client)["customers"][0]["events"]) == 1


def test_error_rate_fault_with_seed(client: httpx.Client) -> None:
    client.put("/__sandbox/faults", json={"error_rate": 1.0, "error_status": 502, "seed": 7})
    body = identity_event({"email": "a@x.io"})
    assert post(client, "/v1/tracking/identityEvent", body).status_code == 502
    client.delete("/__sandbox/faults")
    assert post(client, "/v1/tracking/identityEvent", body).status_code == 201


def test_dropped_response_still_lands(client: httpx.Client) -> None:
    client.put("/__sandbox/faults", json={"script": ["drop"]})
    with pytest.raises(httpx.TransportError):
        post(client, "/v1/tracking/identityEvent", identity_event({"email": "a@x.io"}))
    assert len(state(client)["customers"][0]["events"]) == 1


def test_latency_fault_and_bad_fault_body(client: httpx.Client) -> None:
    assert client.put("/__sandbox/faults", json={"latency_ms": 1}).json()["latency_ms"] == 1
    assert client.put("/__sandbox/faults", json={"error_rat": 1}).status_code == 400
    assert post(client, "/v1/tracking/identityEvent",
                identity_event({"email": "a@x.io"})).status_code == 201  # fmt: skip


def test_request_log_and_reset(client: httpx.Client) -> None:
    post(client, "/v1/tracking/identityEvent", identity_event({"email": "a@x.io"}))
    [entry] = client.get("/__sandbox/requests").json()["data"]
    assert entry["path"] == "/v1/tracking/identityEvent"
    assert entry["status"] == 201
    assert entry["body"]["identity"] == {"email": "a@x.io"}
    assert "sandbox-key" not in str(entry)
    assert client.post("/__sandbox/reset").status_code == 204
    snapshot = state(client)
    assert snapshot["customers"] == []
    assert snapshot["statuses"] == {}
    assert client.get("/__sandbox/requests").json()["data"] == []
