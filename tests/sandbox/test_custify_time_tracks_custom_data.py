"""Custify sandbox: time tracks on both paths, the /custom_data endpoints and the people of a
company, over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from custify_helpers import company, error, ok, person, sorting, walk

TRACK = {"name": "Onboarding call", "duration": 1800, "startedDate": "2024-05-02T09:00:00Z"}


def track(api: httpx.Client, path: str = "/time-track", **fields: Any) -> dict[str, Any]:
    params = {"user": "csm@x.com", **fields.pop("params", {})}
    created: dict[str, Any] = ok(api.post(path, params=params, json={**TRACK, **fields}))
    return created


@pytest.mark.parametrize("path", ["/time-track", "/time_track"])
def test_time_track_lifecycle_on_both_paths(custify: httpx.Client, path: str) -> None:
    acme = company(custify, "acme")
    person(custify, "ann")
    created = track(custify, path, company=acme["id"], tags=["t1"], params={"user_id": "ann"})
    assert (created["startDate"], created["duration"], created["user"]) == (
        "2024-05-02T09:00:00.000Z",
        1800,
        "csm@x.com",
    )
    assert created["company"] == [acme["id"]] and len(created["people"]) == 1
    assert "startedDate" not in created
    updated = ok(
        custify.put(path, params={"user": "lead@x.com", "id": created["id"]}, json={"duration": 60})
    )
    assert (updated["duration"], updated["name"], updated["user"]) == (
        60,
        TRACK["name"],
        "lead@x.com",
    )
    by_body = ok(
        custify.put(path, params={"user": "x"}, json={"id": created["id"], "name": "Renamed"})
    )
    assert by_body["name"] == "Renamed" and by_body["updated_at"] > updated["updated_at"]
    assert ok(custify.get(path)) == {"time_track": [by_body], "total": 1}
    ok(custify.delete(path, params={"id": created["id"]}))
    assert error(custify.delete(path, params={"id": created["id"]}), 404) == "Time track not found"
    assert "id" in error(custify.delete(path), 400)


def test_time_track_required_fields(custify: httpx.Client) -> None:
    assert "user" in error(custify.post("/time-track", json=TRACK), 400)
    for field in ("name", "duration", "startedDate"):
        body = {key: value for key, value in TRACK.items() if key != field}
        assert field in error(custify.post("/time-track", params={"user": "u"}, json=body), 400)
    negative = {**TRACK, "duration": -5}
    assert "duration" in error(
        custify.post("/time-track", params={"user": "u"}, json=negative), 400
    )
    unknown = custify.post("/time-track", params={"user": "u", "company_id": "nope"}, json=TRACK)
    assert error(unknown, 404) == "Company not found"
    assert "user" in error(custify.put("/time-track", params={"id": "x"}, json={}), 400)
    assert "id" in error(custify.put("/time-track", params={"user": "u"}, json={}), 400)
    assert ok(custify.get("/time-track"))["total"] == 0


def test_time_track_listing_filters_pages_and_sorts(custify: httpx.Client) -> None:
    company(custify, "acme")
    made = [
        track(
            custify,
            startedDate=f"2024-05-{n + 1:02d}",
            params={"company_id": "acme"} if n < 3 else {},
            tags=["t1"] if n == 4 else [],
        )
        for n in range(11)
    ]
    newest_first = walk(custify, "/time_track", "time_track", 4)
    assert [t["id"] for t in newest_first] == [t["id"] for t in reversed(made)]
    oldest = ok(
        custify.get(
            "/time-track", params={"sorting": sorting("created_at", "asc"), "itemsPerPage": 1}
        )
    )
    assert oldest["time_track"][0]["id"] == made[0]["id"]
    assert ok(custify.get("/time-track", params={"company_id": "acme"}))["total"] == 3
    assert ok(custify.get("/time-track", params={"company_id": "ghost"}))["total"] == 0
    assert ok(custify.get("/time-track", params={"tags": "t1,t9"}))["total"] == 1
    in_range = ok(
        custify.get("/time-track", params={"start_date": "2024-05-03", "end_date": "2024-05-05"})
    )
    assert in_range["total"] == 3
    assert ok(custify.get("/time-track", params={"user": "someone-else"}))["total"] == 0


def test_custom_data_by_path_and_by_your_id(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    one = {"data_type": "licence", "data_id": "L1", "data": {"seats": 5}}
    assert ok(custify.post(f"/custom_data/companies/{acme['id']}", json=one)) == one
    many = [
        {"data_type": "licence", "data_id": "L1", "data": {"seats": 7}},
        {"data_type": "contract", "data_id": "C1", "data": {"value": 100}},
    ]
    assert (
        ok(custify.post("/custom_data/companies", params={"company_id": "acme"}, json=many)) == many
    )
    assert ok(custify.get(f"/custom_data/companies/{acme['id']}")) == {
        "licence": [many[0]],
        "contract": [many[1]],
    }
    filtered = ok(
        custify.get(
            "/custom_data/companies", params={"company_id": "acme", "data_type": "contract"}
        )
    )
    assert filtered == {"contract": [many[1]]}
    person(custify, "ann")
    ok(
        custify.post(
            "/custom_data/people", params={"user_id": "ann"}, json={**one, "data_id": "P1"}
        )
    )
    assert list(ok(custify.get("/custom_data/people", params={"user_id": "ann"}))) == ["licence"]


def test_custom_data_validation_is_all_or_nothing(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    path = f"/custom_data/companies/{acme['id']}"
    good = {"data_type": "licence", "data_id": "L1", "data": {"seats": 5}}
    for field in ("data_type", "data_id", "data"):
        body = {key: value for key, value in good.items() if key != field}
        assert field in error(custify.post(path, json=body), 400)
    nested = [good, {**good, "data_id": "L2", "data": {"x": {"y": 1}}}]
    assert "flat" in error(custify.post(path, json=nested), 400)
    assert ok(custify.get(path)) == {}
    assert "entityModel" in error(custify.post(f"/custom_data/deals/{acme['id']}", json=good), 400)
    assert "company_id" in error(custify.post("/custom_data/companies", json=good), 400)
    assert error(
        custify.post("/custom_data/companies", params={"company_id": "x"}, json=good), 404
    ) == ("Company not found")


def test_custom_data_deletes(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    path = f"/custom_data/companies/{acme['id']}"
    for data_type, data_id in (("licence", "L1"), ("licence", "L2"), ("contract", "C1")):
        ok(custify.post(path, json={"data_type": data_type, "data_id": data_id, "data": {}}))
    query = {"company_id": "acme"}
    assert "data_type" in error(custify.delete("/custom_data/companies", params=query), 400)
    assert (
        ok(custify.delete("/custom_data/companies", params={**query, "data_id": "L2"}))["deleted"]
        == 1
    )
    assert ok(custify.delete(path, params={"data_type": "licence"}))["deleted"] == 1
    assert ok(custify.delete(path))["deleted"] == 1
    assert ok(custify.get(path)) == {}


def test_people_of_a_company(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    members = [person(custify, f"u{n:02d}", companies=[{"company_id": "acme"}]) for n in range(7)]
    person(custify, "outsider")
    listed = walk(custify, f"/company/people/{acme['id']}", "people", 3)
    assert [p["user_id"] for p in listed] == [m["user_id"] for m in members]
    assert (
        error(custify.get(f"/company/people/{'a' * 24}"), 404)
        == "Param provided is missing or invalid"
    )
