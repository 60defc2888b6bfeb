"""Custify sandbox: people upsert lookup order and quirks, companies, associations, reads, deletes
and listing, over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx


def upsert(custify: httpx.Client, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = custify.post("/people", json=body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def people_with(custify: httpx.Client, **params: str) -> list[dict[str, Any]]:
    body = custify.get("/people", params=params).json()
    return body[0]["people"] if body else []


def company(custify: httpx.Client, company_id: str) -> dict[str, Any]:
    body = custify.get("/company", params={"company_id": company_id}).json()
    assert body["total"] == 1, body
    result: dict[str, Any] = body["companies"][0]
    return result


def test_create_and_read_back_by_every_identifier(custify: httpx.Client) -> None:
    person = upsert(custify, {"user_id": "u1", "email": "Ann@Example.com", "name": "Ann"})
    assert person["user_id"] == "u1" and len(person["id"]) == 24
    assert custify.get(f"/people/{person['id']}").json() == person
    assert custify.get("/people", params={"user_id": "u1"}).json() == [
        {"people": [person], "total": 1}
    ]
    assert people_with(custify, email="ann@example.com") == [person]
    assert custify.get("/people", params={"user_id": "nobody"}).json() == []


def test_id_match_overwrites_user_id_and_email(custify: httpx.Client) -> None:
    person = upsert(custify, {"user_id": "u1", "email": "a@x.com"})
    updated = upsert(custify, {"id": person["id"], "user_id": "u2", "email": "b@x.com"})
    assert (updated["id"], updated["user_id"], updated["email"]) == (person["id"], "u2", "b@x.com")
    assert people_with(custify, user_id="u1") == []
    assert people_with(custify, email="a@x.com") == []
    assert [p["id"] for p in people_with(custify, user_id="u2")] == [person["id"]]


def test_user_id_match_updates_email(custify: httpx.Client) -> None:
    person = upsert(custify, {"user_id": "u1", "email": "old@x.com"})
    updated = upsert(custify, {"user_id": "u1", "email": "new@x.com", "name": "N"})
    assert updated["id"] == person["id"] and updated["email"] == "new@x.com"
    assert people_with(custify, email="old@x.com") == []
    assert people_with(custify, email="new@x.com")[0]["name"] == "N"


def test_email_match_without_user_id_gets_the_user_id(custify: httpx.Client) -> None:
    lead = upsert(custify, {"email": "lead@x.com"})
    upgraded = upsert(custify, {"email": "lead@x.com", "user_id": "u9"})
    assert upgraded["id"] == lead["id"] and upgraded["user_id"] == "u9"
    assert custify.get("/__sandbox/state", params={"summary": "1"}).json()["counts"]["people"] == 1


def test_email_match_with_a_different_user_id_creates_a_new_person(custify: httpx.Client) -> None:
    first = upsert(custify, {"email": "shared@x.com", "user_id": "u1"})
    second = upsert(custify, {"email": "shared@x.com", "user_id": "u2"})
    assert second["id"] != first["id"]
    assert {p["user_id"] for p in people_with(custify, email="shared@x.com")} == {"u1", "u2"}


def test_email_only_upsert_updates_the_person_with_that_email(custify: httpx.Client) -> None:
    person = upsert(custify, {"email": "e@x.com", "user_id": "u1"})
    updated = upsert(custify, {"email": "e@x.com", "name": "By email"})
    assert updated["id"] == person["id"] and updated["name"] == "By email"


def test_upsert_errors_change_nothing(custify: httpx.Client) -> None:
    upsert(custify, {"name": "nobody"}, status=400)
    upsert(custify, {"id": "0" * 24}, status=404)
    upsert(custify, {"user_id": "u1"})
    other = upsert(custify, {"user_id": "u2"})
    taken = upsert(custify, {"id": other["id"], "user_id": "u1", "name": "X"}, status=400)
    assert "u1" in taken["message"] and taken["error"] == taken["message"]
    assert custify.get(f"/people/{other['id']}").json()["name"] is None
    bad_json = custify.post(
        "/people", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400


def test_get_by_id_errors(custify: httpx.Client) -> None:
    malformed = custify.get("/people/not-an-id")
    assert malformed.status_code == 404
    assert malformed.json()["message"] == "Param provided is missing or invalid"
    unknown = custify.get(f"/people/{'a' * 24}")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "People not found")


def test_unset_clears_default_and_custom_fields(custify: httpx.Client) -> None:
    upsert(
        custify, {"user_id": "u1", "name": "Ann", "custom_attributes": {"plan": "pro", "seats": 3}}
    )
    person = upsert(custify, {"user_id": "u1", "$unset": ["name", "custom_attributes.plan"]})
    assert person["name"] is None and person["custom_attributes"] == {"seats": 3}
    conflict = upsert(custify, {"user_id": "u1", "name": "B", "$unset": ["name"]}, status=400)
    assert "set and unset" in conflict["message"]
    upsert(custify, {"user_id": "u1", "$unset": ["email_verified"]}, status=400)


def test_delete_by_user_id_as_rudderstack_expects(custify: httpx.Client) -> None:
    person = upsert(custify, {"user_id": "rudder1"})
    custify.post("/event", json={"name": "e", "created_at": "2024-01-01", "user_id": "rudder1"})
    deleted = custify.delete("/people", params={"user_id": "rudder1"})
    assert deleted.status_code == 200
    assert deleted.json()["msg"] == "All users associated with rudder1 were successfully deleted"
    again = custify.delete("/people", params={"user_id": "rudder1"})
    assert (again.status_code, again.json()["error"]) == (404, "User: rudder1 not found")
    state = custify.get("/__sandbox/state").json()
    assert state["people"] == [] and state["events"] == []
    assert custify.get(f"/people/{person['id']}").status_code == 404
    assert custify.delete("/people").status_code == 400


def test_delete_by_email_and_by_id(custify: httpx.Client) -> None:
    upsert(custify, {"email": "d@x.com", "user_id": "a"})
    upsert(custify, {"email": "d@x.com", "user_id": "b"})
    keep = upsert(custify, {"user_id": "c"})
    assert custify.delete("/people", params={"email": "d@x.com"}).json()["deleted"] == 2
    assert custify.delete(f"/people/{keep['id']}").status_code == 200
    assert custify.delete(f"/people/{keep['id']}").status_code == 404
    assert custify.get("/__sandbox/state").json()["counts"]["people"] == 0


def test_people_listing_pages_return_everyone_once(custify: httpx.Client) -> None:
    for n in range(45):
        upsert(custify, {"user_id": f"u{n:02d}", "signed_up_at": f"2024-01-{n % 28 + 1:02d}"})
    seen: list[str] = []
    page = 1
    while True:
        body = custify.get("/people/all", params={"page": page, "itemsPerPage": 20}).json()
        assert isinstance(body, list) and body[0]["total"] == 45
        seen += [p["user_id"] for p in body[0]["people"]]
        if page * 20 >= body[0]["total"]:
            break
        page += 1
    assert sorted(seen) == [f"u{n:02d}" for n in range(45)] and len(seen) == 45
    ordered = custify.get(
        "/people/all",
        params={"sorting": '{"field":"user_id","direction":"asc"}', "itemsPerPage": 3},
    ).json()[0]["people"]
    assert [p["user_id"] for p in ordered] == ["u00", "u01", "u02"]
    newest_first = custify.get("/people/all").json()[0]["people"]
    assert newest_first[0]["signed_up_at"] == "2024-01-28T00:00:00.000Z"
    clamped = custify.get("/people/all", params={"itemsPerPage": 500}).json()[0]["people"]
    assert len(clamped) == 45
    assert custify.get("/people/all", params={"page": 0}).status_code == 400


def test_company_upsert_by_company_id_and_reads(custify: httpx.Client) -> None:
    created = custify.post("/company", json={"company_id": "c1", "name": "Acme", "size": 15}).json()
    updated = custify.post("/company", json={"company_id": "c1", "plan": "Gold"}).json()
    assert updated["id"] == created["id"] and (updated["name"], updated["plan"]) == ("Acme", "Gold")
    by_id = custify.get(f"/company/{created['id']}").json()
    assert by_id == {"companies": [updated], "total": 1}
    assert custify.get("/company", params={"company_id": "none"}).json() == {
        "companies": [],
        "total": 0,
    }
    assert custify.get(f"/company/{'b' * 24}").json() == {"companies": [], "total": 0}
    listing = custify.get("/company/all").json()
    assert listing["total"] == 1 and listing["companies"][0]["company_id"] == "c1"
    assert custify.post("/company", json={"name": "no id"}).status_code == 400
    assert custify.post("/company", json={"id": "c" * 24, "name": "x"}).status_code == 404


def test_company_id_cannot_be_changed(custify: httpx.Client) -> None:
    created = custify.post("/company", json={"company_id": "c1", "name": "Acme"}).json()
    changed = custify.post(
        "/company", json={"id": created["id"], "company_id": "c2", "name": "Other"}
    )
    assert changed.status_code == 400 and "company_id" in changed.json()["message"]
    assert company(custify, "c1")["name"] == "Acme"
    assert custify.get("/company", params={"company_id": "c2"}).json()["total"] == 0
    renamed = custify.post("/company", json={"id": created["id"], "name": "Acme Inc"}).json()
    assert (renamed["company_id"], renamed["name"]) == ("c1", "Acme Inc")


def test_people_join_and_leave_companies(custify: httpx.Client) -> None:
    acme = custify.post("/company", json={"company_id": "c1"}).json()
    person = upsert(
        custify, {"user_id": "u1", "companies": [{"company_id": "c1", "remove": False}]}
    )
    assert person["companies"] == [acme["id"]] and company(custify, "c1")["people_count"] == 1
    person = upsert(custify, {"user_id": "u1", "companies": [{"id": acme["id"]}]})
    assert person["companies"] == [acme["id"]]
    person = upsert(custify, {"user_id": "u1", "companies": [{"company_id": "c1", "remove": True}]})
    assert person["companies"] == [] and company(custify, "c1")["people_count"] == 0


def test_linking_before_the_company_exists_creates_it(custify: httpx.Client) -> None:
    person = upsert(custify, {"user_id": "u1", "companies": [{"company_id": "later"}]})
    placeholder = company(custify, "later")
    assert person["companies"] == [placeholder["id"]] and placeholder["name"] is None
    filled = custify.post("/company", json={"company_id": "later", "name": "Later Ltd"}).json()
    assert filled["id"] == placeholder["id"] and filled["people_count"] == 1
    upsert(custify, {"user_id": "u1", "companies": [{"company_id": "ghost", "remove": True}]})
    assert custify.get("/company", params={"company_id": "ghost"}).json()["total"] == 0


def test_unknown_internal_company_id_rejects_the_whole_upsert(custify: httpx.Client) -> None:
    missing = upsert(custify, {"user_id": "u1", "companies": [{"id": "d" * 24}]}, status=404)
    assert missing["message"] == "Company not found"
    assert people_with(custify, user_id="u1") == []


def test_parent_companies_link_and_unlink(custify: httpx.Client) -> None:
    parent = custify.post("/company", json={"company_id": "p"}).json()
    child = custify.post(
        "/company", json={"company_id": "c", "parent_companies": [{"company_id": "p"}]}
    )
    assert child.json()["parent_companies"] == [{"id": parent["id"]}]
    unlinked = custify.post(
        "/company",
        json={"company_id": "c", "parent_companies": [{"id": parent["id"], "remove": True}]},
    )
    assert unlinked.json()["parent_companies"] == []


def test_deleting_a_company_detaches_its_people(custify: httpx.Client) -> None:
    custify.post("/company", json={"company_id": "c1"})
    upsert(custify, {"user_id": "u1", "companies": [{"company_id": "c1"}]})
    assert custify.delete("/company", params={"company_id": "c1"}).status_code == 200
    assert people_with(custify, user_id="u1")[0]["companies"] == []
    assert custify.delete("/company", params={"company_id": "c1"}).status_code == 404
    other = custify.post("/company", json={"company_id": "c2"}).json()
    assert custify.delete(f"/company/{other['id']}").status_code == 200
    assert custify.get("/__sandbox/state").json()["companies"] == []


def listed(custify: httpx.Client, path: str, *filters: dict[str, Any]) -> list[str]:
    params = {
        "filters": json.dumps(list(filters)),
        "sorting": '{"field":"created_at","direction":"asc"}',
    }
    response = custify.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    records = body[0]["people"] if path == "/people/all" else body["companies"]
    return [r.get("user_id") or r["company_id"] for r in records]


def test_listing_filters_are_and_ed(custify: httpx.Client) -> None:
    acme = custify.post("/company", json={"company_id": "acme", "name": "Acme Corp"}).json()
    custify.post("/company", json={"company_id": "beta", "name": "Beta"})
    upsert(
        custify,
        {
            "user_id": "a",
            "email": "a@acme.io",
            "signed_up_at": "2024-01-10",
            "custom_attributes": {"seats": 5, "vip": True},
            "companies": [{"company_id": "acme"}],
        },
    )
    upsert(
        custify,
        {
            "user_id": "b",
            "email": "b@beta.io",
            "signed_up_at": "2024-03-01",
            "custom_attributes": {"seats": 50, "vip": False},
        },
    )
    upsert(custify, {"user_id": "c", "email": "c@acme.io"})

    def entry(field: str, kind: str, test: str, value: Any = None) -> dict[str, Any]:
        return {"fieldName": field, "fieldType": kind, "filterType": test, "filterValue": value}

    seats = "custom_attributes.seats"
    assert listed(custify, "/people/all", entry(seats, "Number", "greater", 10)) == ["b"]
    assert listed(custify, "/people/all", entry(seats, "Number", "is_unknown")) == ["c"]
    assert listed(custify, "/people/all", entry("email", "String", "ends_with", "@ACME.io")) == [
        "a",
        "c",
    ]
    assert listed(custify, "/people/all", entry("custom_attributes.vip", "Boolean", "true")) == [
        "a"
    ]
    assert listed(custify, "/people/all", entry("signed_up_at", "Date", "after", "2024-02-01")) == [
        "b"
    ]
    between = entry("signed_up_at", "Date", "between", ["2024-01-01", "2024-01-10"])
    assert listed(custify, "/people/all", between) == ["a"]
    assert listed(custify, "/people/all", entry("signed_up_at", "Date", "more_than", 30)) == [
        "a",
        "b",
    ]
    assert listed(custify, "/people/all", entry("companies", "Company", "is_in", [acme["id"]])) == [
        "a"
    ]
    both = [
        entry("email", "String", "contains", "acme"),
        entry("companies", "Company", "is_unknown"),
    ]
    assert listed(custify, "/people/all", *both) == ["c"]
    assert listed(custify, "/company/all", entry("name", "String", "starts_with", "acme")) == [
        "acme"
    ]
    bad = custify.get(
        "/people/all", params={"filters": json.dumps([entry("email", "Boolean", "greater", 1)])}
    )
    assert bad.status_code == 400 and "greater" in bad.json()["message"]
    assert custify.get("/people/all", params={"filters": "[{"}).status_code == 400
