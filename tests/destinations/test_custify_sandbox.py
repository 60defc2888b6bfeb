"""The Custify destination's requests against the Custify sandbox, over real HTTP on 127.0.0.1.

What the transform promises only holds against Custify's upsert rules: a group event puts the
user in the company whether or not either existed; a track reaches a person identified before;
deduplication drops a redelivered event; deletion treats "already gone" as done.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from csroute.custify.sandbox import create_app, running
from csroute.destinations.base import Rejection, Request
from csroute.destinations.custify import Settings, delivery, forget_error, forget_requests
from csroute.destinations.custify import transform as custify_transform

TS = "2026-01-02T03:04:05.000Z"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running(create_app(rate_limit=None)) as url:
        yield url


@pytest.fixture
def settings(base_url: str) -> Iterator[Settings]:
    httpx.post(f"{base_url}/__sandbox/reset").raise_for_status()
    yield Settings(api_key="sandbox-key", base_url=base_url)


def send(request: Request) -> httpx.Response:
    return httpx.request(
        request.method,
        request.url,
        headers=dict(request.headers),
        params=dict(request.params),
        json=request.body,
    )


def deliver(settings: Settings, event: dict[str, Any], traits: Any = None) -> list[int]:
    """Transform and send the requests in order, as the router does in single-request mode."""
    result = custify_transform(event, settings, traits or {})
    assert not isinstance(result, Rejection), result
    return [send(r).status_code for r in result]


def state(settings: Settings) -> dict[str, Any]:
    response = httpx.get(f"{settings.base_url}/__sandbox/state")
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def person_companies(settings: Settings, user_id: str) -> list[str]:
    """The company_ids (the customer's ids) the person is linked to."""
    snapshot = state(settings)
    by_internal = {c["id"]: c["company_id"] for c in snapshot["companies"]}
    (person,) = [p for p in snapshot["people"] if p["user_id"] == user_id]
    return sorted(by_internal[i] for i in person["companies"])


def group(user: str, company: str, **traits: Any) -> dict[str, Any]:
    return {
        "type": "group",
        "userId": user,
        "groupId": company,
        "timestamp": TS,
        "messageId": f"g-{user}-{company}",
        "traits": {"name": f"Company {company}", "plan": "pro", **traits},
    }


def identify(user: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "timestamp": TS, "traits": traits}


@pytest.mark.parametrize("user_exists", [False, True])
@pytest.mark.parametrize("company_exists", [False, True])
def test_group_puts_the_user_in_the_company(
    settings: Settings, user_exists: bool, company_exists: bool
) -> None:
    """Q16: RudderStack's documented promise, in all four cases."""
    if user_exists:
        assert deliver(settings, identify("u1", email="u1@x.io")) == [200]
    if company_exists:
        assert deliver(settings, group("someone-else", "c1")) == [200, 200]
    assert deliver(settings, group("u1", "c1", employees=12)) == [200, 200]
    assert person_companies(settings, "u1") == ["c1"]
    (company,) = state(settings)["companies"]
    assert (company["company_id"], company["name"], company["plan"]) == ("c1", "Company c1", "pro")
    assert company["custom_attributes"]["employees"] == 12


def test_company_from_traits_group_id_is_linked(settings: Settings) -> None:
    """Q5: RudderStack upserts this company but leaves the user out of it."""
    event = group("u1", "ignored")
    del event["groupId"]
    event["traits"]["groupId"] = "c9"
    assert deliver(settings, event) == [200, 200]
    assert person_companies(settings, "u1") == ["c9"]


def test_remove_detaches_the_user(settings: Settings) -> None:
    assert deliver(settings, group("u1", "c1")) == [200, 200]
    assert deliver(settings, group("u1", "c2")) == [200, 200]
    assert person_companies(settings, "u1") == ["c1", "c2"]
    detach = identify("u1", company={"id": "c1", "remove": True})
    assert deliver(settings, detach) == [200]
    assert person_companies(settings, "u1") == ["c2"]


def test_track_reaches_the_identified_person_with_carried_over_email(settings: Settings) -> None:
    assert deliver(settings, identify("u1", email="u1@x.io")) == [200]
    track = {
        "type": "track",
        "userId": "u1",
        "event": "Report Viewed",
        "timestamp": TS,
        "messageId": "m-1",
        "properties": {"rows": 0},
    }
    assert deliver(settings, track, {"email": "u1@x.io"}) == [202]
    assert deliver(settings, track, {"email": "u1@x.io"}) == [202]  # redelivered
    (stored,) = state(settings)["events"]  # deduplicated by messageId
    assert stored["name"] == "Report Viewed"
    assert stored["metadata"]["rows"] == 0


def test_track_before_identify_is_explained(settings: Settings) -> None:
    event = {"type": "track", "userId": "ghost", "event": "E", "timestamp": TS}
    result = custify_transform(event, settings, {})
    assert isinstance(result, list)
    response = send(result[0])
    assert response.status_code == 404
    explain = delivery(settings).explain
    assert explain is not None
    assert "identified" in explain(response.status_code, response.content)


def test_batch_of_many_users_lands(settings: Settings) -> None:
    batching = delivery(settings).batching
    assert batching is not None
    requests: list[Request] = []
    for n in range(30):
        result = custify_transform(identify(f"u{n}", email=f"u{n}@x.io"), settings, {})
        assert isinstance(result, list)
        requests.extend(result)
    response = send(batching.combine(requests))
    assert response.status_code == 202, response.text
    assert state(settings)["counts"]["people"] == 30


def test_forget_deletes_and_already_gone_is_done(settings: Settings) -> None:
    assert deliver(settings, identify("a b&c", email="odd@x.io")) == [200]
    assert deliver(settings, identify("a b", email="other@x.io")) == [200]
    for _ in range(2):
        (request,) = forget_requests("a b&c", settings)
        response = send(request)
        assert forget_error(response.status_code, response.content) is None
    assert [p["user_id"] for p in state(settings)["people"]] == ["a b"]  # Q15: encoded id
