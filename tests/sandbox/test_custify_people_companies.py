"""Custify sandbox: people upsert lookup order and quirks, companies, associations, reads, deletes
and listing, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from csroute.custify.sandbox import create_app, running

AUTH = {"Authorization": "Bearer sandbox-key"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running(create_app(rate_limit=None)) as url:
        yield url


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=AUTH) as client:
        client.post("/__sandbox/reset").raise_for_status()
        yield client


def upsert(api: httpx.Client, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = api.post("/people", json=body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def people_with(api: httpx.Client, **params: str) -> list[dict[str, Any]]:
    body = api.get("/people", params=params).json()
    return body[0]["people"] if body else []


def company(api: httpx.Client, company_id: str) -> dict[str, Any]:
    body = api.get("/company", params={"company_id": company_id}).json()
    assert body["total"] == 1, body
    result: dict[str, Any] = body["companies"][0]
    return result


def test_create_and_read_back_by_every_identifier(api: httpx.Client) -> None:
    person = upsert(api, {"user_id": "u1", "email": "Ann@Example.com", "name": "Ann"})
    assert person["user_id"] == "u1" and len(person["id"]) == 24
    assert api.get(f"/people/{person['id']}").json() == person
    assert api.get("/people", params={"user_id": "u1"}).json() == [{"people": [person], "total": 1}]
    assert people_with(api, email="ann@example.com") == [person]
    assert api.get("/people", params={"user_id": "nobody"}).json() == []


def test_id_match_overwrites_user_id_and_email(api: httpx.Client) -> None:
    person = upsert(api, {"user_id": "u1", "email": "a@x.com"})
    updated = upsert(api, {"id": person["id"], "user_id": "u2", "email": "b@x.com"})
    assert (updated["id"], updated["user_id"], updated["email"]) == (person["id"], "u2", "b@x.com")
    assert people_with(api, user_id="u1") == []
    assert people_with(api, email="a@x.com") == []
    assert [p["id"] for p in people_with(api, user_id="u2")] == [person["id"]]


def test_user_id_match_updates_email(api: httpx.Client) -> None:
    person = upsert(api, {"user_id": "u1", "email": "old@x.com"})
    updated = upsert(api, {"user_id": "u1", "email": "new@x.com", "name": "N"})
    assert updated["id"] == person["id"] and updated["email"] == "new@x.com"
    assert people_with(api, email="old@x.com") == []
    assert people_with(api, email="new@x.com")[0]["name"] == "N"


def test_email_match_without_user_id_gets_the_user_id(api: httpx.Client) -> None:
    lead = upsert(api, {"email": "lead@x.com"})
    upgraded = upsert(api, {"email": "lead@x.com", "user_id": "u9"})
    assert upgraded["id"] == lead["id"] and upgraded["user_id"] == "u9"
    assert api.get("/__sandbox/state", params={"summary": "1"}).json()["counts"]["people"] == 1


def test_email_match_with_a_different_user_id_creates_a_new_person(api: httpx.Client) -> None:
    first = upsert(api, {"email": "shared@x.com", "user_id": "u1"})
    second = upsert(api, {"email": "shared@x.com", "user_id": "u2"})
    assert second["id"] != first["id"]
    assert {p["user_id"] for p in people_with(api, email="shared@x.com")} == {"u1", "u2"}


def test_email_only_upsert_updates_the_person_with_that_email(api: httpx.Client) -> None:
    person = upsert(api, {"email": "e@x.com", "user_id": "u1"})
    updated = upsert(api, {"email": "e@x.com", "name": "By email"})
    assert updated["id"] == person["id"] and updated["name"] == "By email"


def test_upsert_errors_change_nothing(api: httpx.Client) -> None:
    upsert(api, {"name": "nobody"}, status=400)
    upsert(api, {"id": "0" * 24}, status=404)
    upsert(api, {"user_id": "u1"})
    other = upsert(api, {"user_id": "u2"})
    taken = upsert(api, {"id": other["id"], "user_id": "u1", "name": "X"}, status=400)
    assert "u1" in taken["message"] and taken["error"] == taken["message"]
    assert api.get(f"/people/{other['id']}").json()["name"] is None
    bad_json = api.post(
        "/people", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400


def test_get_by_id_errors(api: httpx.Client) -> None:
    malformed = api.get("/people/not-an-id")
    assert malformed.status_code == 404
    assert malformed.json()["message"] == "Param provided is missing or invalid"
    unknown = api.get(f"/people/{'a' * 24}")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "People not found")


def test_unset_clears_default_and_custom_fields(api: httpx.Client) -> None:
    upsert(api, {"user_id": "u1", "name": "Ann", "custom_attributes": {"plan": "pro", "seats": 3}})
    person = upsert(api, {"user_id": "u1", "$unset": ["name", "custom_attributes.plan"]})
    assert person["name"] is None and person["custom_attributes"] == {"seats": 3}
    conflict = upsert(api, {"user_id": "u1", "name": "B", "$unset": ["name"]}, status=400)
    assert "set and unset" in conflict["message"]
    upsert(api, {"user_id": "u1", "$unset": ["email_verified"]}, status=400)


def test_delete_by_user_id_as_rudderstack_expects(api: httpx.Client) -> None:
    person = upsert(api, {"user_id": "rudder1"})
    api.post("/event", json={"name": "e", "created_at": "2024-01-01", "user_id": "rudder1"})
    deleted = api.delete("/people", params={"user_id": "rudder1"})
    assert deleted.status_code == 200
    assert deleted.json()["msg"] == "All users associated with rudder1 were successfully deleted"
    again = api.delete("/people", params={"user_id": "rudder1"})
    assert (again.status_code, again.json()["error"]) == (404, "User: rudder1 not found")
    state = api.get("/__sandbox/state").json()
    assert state["people"] == [] and state["events"] == []
    assert api.get(f"/people/{person['id']}").status_code == 404
    assert api.delete("/people").status_code == 400


def test_delete_by_email_and_by_id(api: httpx.Client) -> None:
    upsert(api, {"email": "d@x.com", "user_id": "a"})
    upsert(api, {"email": "d@x.com", "user_id": "b"})
    keep = upsert(api, {"user_id": "c"})
    assert api.delete("/people", params={"email": "d@x.com"}).json()["deleted"] == 2
    assert api.delete(f"/people/{keep['id']}").status_code == 200
    assert api.delete(f"/people/{keep['id']}").status_code == 404
    assert api.get("/__sandbox/state").json()["counts"]["people"] == 0


def test_people_listing_pages_return_everyone_once(api: httpx.Client) -> None:
    for n in range(45):
        upsert(api, {"user_id": f"u{n:02d}", "signed_up_at": f"2024-01-{n % 28 + 1:02d}"})
    seen: list[str] = []
    page = 1
    while True:
        body = api.get("/people/all", params={"page": page, "itemsPerPage": 20}).json()
        assert isinstance(body, list) and body[0]["total"] == 45
        seen += [p["user_id"] for p in body[0]["people"]]
        if page * 20 >= body[0]["total"]:
            break
        page += 1
    assert sorted(seen) == [f"u{n:02d}" for n in range(45)] and len(seen) == 45
    ordered = api.get(
        "/people/all",
        params={"sorting": '{"field":"user_id","direction":"asc"}', "itemsPerPage": 3},
    ).json()[0]["people"]
    assert [p["user_id"] for p in ordered] == ["u00", "u01", "u02"]
    newest_first = api.get("/people/all").json()[0]["people"]
    assert newest_first[0]["signed_up_at"] == "2024-01-28T00:00:00.000Z"
    clamped = api.get("/people/all", params={"itemsPerPage": 500}).json()[0]["people"]
    assert len(clamped) == 45
    assert api.get("/people/all", params={"page": 0}).status_code == 400


def test_company_upsert_by_company_id_and_reads(api: httpx.Client) -> None:
    created = api.post("/company", json={"company_id": "c1", "name": "Acme", "size": 15}).json()
    updated = api.post("/company", json={"company_id": "c1", "plan": "Gold"}).json()
    assert updated["id"] == created["id"] and (updated["name"], updated["plan"]) == ("Acme", "Gold")
    by_id = api.get(f"/company/{created['id']}").json()
    assert by_id == {"companies": [updated], "total": 1}
    assert api.get("/company", params={"company_id": "none"}).json() == {
        "companies": [],
        "total": 0,
    }
    assert api.get(f"/company/{'b' * 24}").json() == {"companies": [], "total": 0}
    listing = api.get("/company/all").json()
    assert listing["total"] == 1 and listing["companies"][0]["company_id"] == "c1"
    assert api.post("/company", json={"name": "no id"}).status_code == 400
    assert api.post("/company", json={"id": "c" * 24, "name": "x"}).status_code == 404


def test_company_id_cannot_be_changed(api: httpx.Client) -> None:
    created = api.post("/company", json={"company_id": "c1", "name": "Acme"}).json()
    changed = api.post("/company", json={"id": created["id"], "company_id": "c2", "name": "Other"})
    assert changed.status_code == 400 and "company_id" in changed.json()["message"]
    assert company(api, "c1")["name"] == "Acme"
    assert api.get("/company", params={"company_id": "c2"}).json()["total"] == 0
    renamed = api.post("/company", json={"id": created["id"], "name": "Acme Inc"}).json()
    assert (renamed["company_id"], renamed["name"]) == ("c1", "Acme Inc")


def test_people_join_and_leave_companies(api: httpx.Client) -> None:
    acme = api.post("/company", json={"company_id": "c1"}).json()
    person = upsert(api, {"user_id": "u1", "companies": [{"company_id": "c1", "remove": False}]})
    assert person["companies"] == [acme["id"]] and company(api, "c1")["people_count"] == 1
    person = upsert(api, {"user_id": "u1", "companies": [{"id": acme["id"]}]})
    assert person["companies"] == [acme["id"]]
    person = upsert(api, {"user_id": "u1", "companies": [{"company_id": "c1", "remove": True}]})
    assert person["companies"] == [] and company(api, "c1")["people_count"] == 0


def test_linking_before_the_company_exists_creates_it(api: httpx.Client) -> None:
    person = upsert(api, {"user_id": "u1", "companies": [{"company_id": "later"}]})
    placeholder = company(api, "later")
    assert person["companies"] == [placeholder["id"]] and placeholder["name"] is None
    filled = api.post("/company", json={"company_id": "later", "name": "Later Ltd"}).json()
    assert filled["id"] == placeholder["id"] and filled["people_count"] == 1
    upsert(api, {"user_id": "u1", "companies": [{"company_id": "ghost", "remove": True}]})
    assert api.get("/company", params={"company_id": "ghost"}).json()["total"] == 0


def test_unknown_internal_company_id_rejects_the_whole_upsert(api: httpx.Client) -> None:
    missing = upsert(api, {"user_id": "u1", "companies": [{"id": "d" * 24}]}, status=404)
    assert missing["message"] == "Company not found"
    assert people_with(api, user_id="u1") == []


def test_parent_companies_link_and_unlink(api: httpx.Client) -> None:
    parent = api.post("/company", json={"company_id": "p"}).json()
    child = api.post(
        "/company", json={"company_id": "c", "parent_companies": [{"company_id": "p"}]}
    )
    assert child.json()["parent_companies"] == [{"id": parent["id"]}]
    unlinked = api.post(
        "/company",
        json={"company_id": "c", "parent_companies": [{"id": parent["id"], "remove": True}]},
    )
    assert unlinked.json()["parent_companies"] == []


def test_deleting_a_company_detaches_its_people(api: httpx.Client) -> None:
    api.post("/company", json={"company_id": "c1"})
    upsert(api, {"user_id": "u1", "companies": [{"company_id": "c1"}]})
    assert api.delete("/company", params={"company_id": "c1"}).status_code == 200
    assert people_with(api, user_id="u1")[0]["companies"] == []
    assert api.delete("/company", params={"company_id": "c1"}).status_code == 404
    other = api.post("/company", json={"company_id": "c2"}).json()
    assert api.delete(f"/company/{other['id']}").status_code == 200
    assert api.get("/__sandbox/state").json()["companies"] == []


def listed(api: httpx.Client, path: str, *filters: dict[str, Any]) -> list[str]:
    params = {
        "filters": json.dumps(list(filters)),
        "sorting": '{"field":"created_at","direction":"asc"}',
    }
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    records = body[0]["people"] if path == "/people/all" else body["companies"]
    return [r.get("user_id") or r["company_id"] for r in records]


def test_listing_filters_are_and_ed(api: httpx.Client) -> None:
    acme = api.post("/company", json={"company_id": "acme", "name": "Acme Corp"}).json()
    api.post("/company", json={"company_id": "beta", "name": "Beta"})
    upsert(
        api,
        {
            "user_id": "a",
            "email": "a@acme.io",
            "signed_up_at": "2024-01-10",
            "custom_attributes": {"seats": 5, "vip": True},
            "companies": [{"company_id": "acme"}],
        },
    )
    upsert(
        api,
        {
            "user_id": "b",
            "email": "b@beta.io",
            "signed_up_at": "2024-03-01",
            "custom_attributes": {"seats": 50, "vip": False},
        },
    )
    upsert(api, {"user_id": "c", "email": "c@acme.io"})

    def entry(field: str, kind: str, test: str, value: Any = None) -> dict[str, Any]:
        return {"fieldName": field, "fieldType": kind, "filterType": test, "filterValue": value}

    seats = "custom_attributes.seats"
    assert listed(api, "/people/all", entry(seats, "Number", "greater", 10)) == ["b"]
    assert listed(api, "/people/all", entry(seats, "Number", "is_unknown")) == ["c"]
    assert listed(api, "/people/all", entry("email", "String", "ends_with", "@ACME.io")) == [
        "a",
        "c",
    ]
    assert listed(api, "/people/all", entry("custom_attributes.vip", "Boolean", "true")) == ["a"]
    assert listed(api, "/people/all", entry("signed_up_at", "Date", "after", "2024-02-01")) == ["b"]
    between = entry("signed_up_at", "Date", "between", ["2024-01-01", "2024-01-10"])
    assert listed(api, "/people/all", between) == ["a"]
    assert listed(api, "/people/all", entry("signed_up_at", "Date", "more_than", 30)) == ["a", "b"]
    assert listed(api, "/people/all", entry("companies", "Company", "is_in", [acme["id"]])) == ["a"]
    both = [
        entry("email", "String", "contains", "acme"),
        entry("companies", "Company", "is_unknown"),
    ]
    assert listed(api, "/people/all", *both) == ["c"]
    assert listed(api, "/company/all", entry("name", "String", "starts_with", "acme")) == ["acme"]
    bad = api.get(
        "/people/all", params={"filters": json.dumps([entry("email", "Boolean", "greater", 1)])}
    )
    assert bad.status_code == 400 and "greater" in bad.json()["message"]
    assert api.get("/people/all", params={"filters": "[{"}).status_code == 400
