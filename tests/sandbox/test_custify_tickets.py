"""Custify sandbox: tickets keyed by externalId (create, patch, replies, delete, listings with
sort/order, filters and searchTerm, per-entity listing), over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
from custify_helpers import company, error, ok, person, walk


def ticket(api: httpx.Client, external_id: str, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = ok(api.post("/ticket", json={"externalId": external_id, **fields}))
    return created


def test_create_resolves_your_ids_to_the_listing_object(custify: httpx.Client) -> None:
    acme = company(custify, "acme", name="Acme", owners_csm="csm@x.com")
    ann = person(custify, "ann", name="Ann", email="ann@x.com")
    created = ticket(
        custify,
        "T-1",
        title="Cannot log in",
        company="acme",
        people="ann@x.com",
        ticketStatus="open",
        openedAt="2024-05-01T10:00:00Z",
        replies=[{"body": "Help", "from": "Ann", "type": "incoming"}],
    )
    assert (created["company"], created["companyNames"]) == ([acme["id"]], ["Acme"])
    assert (created["people"], created["peopleNames"]) == ([{"id": ann["id"]}], ["Ann"])
    assert created["openedAt"] == "2024-05-01T10:00:00.000Z" == created["lastModifiedAt"]
    assert created["status"] == "active" and len(created["id"]) == 24
    by_user_id = ticket(custify, "T-2", people="ann")
    assert by_user_id["people"] == [{"id": ann["id"]}]
    assert "externalId" in error(custify.post("/ticket", json={"title": "x"}), 400)
    assert "already exists" in error(custify.post("/ticket", json={"externalId": "T-1"}), 400)
    assert error(custify.post("/ticket", json={"externalId": "T-3", "company": "nope"}), 404) == (
        "Company not found"
    )
    assert error(custify.post("/ticket", json={"externalId": "T-3", "people": "x@y.z"}), 404) == (
        "People not found"
    )
    bad_reply = {"externalId": "T-3", "replies": [{"body": "x", "type": "shout"}]}
    assert "type" in error(custify.post("/ticket", json=bad_reply), 400)
    assert "body" in error(
        custify.post("/ticket", json={"externalId": "T-3", "replies": [{}]}), 400
    )


def test_update_patches_and_replies_replace_or_append(custify: httpx.Client) -> None:
    created = ticket(custify, "T-1", title="Old", priority="low", replies=[{"body": "first"}])
    updated = ok(custify.put("/ticket/T-1", json={"ticketStatus": "pending"}))
    assert (updated["title"], updated["priority"], updated["ticketStatus"]) == (
        "Old",
        "low",
        "pending",
    )
    assert updated["lastModifiedAt"] > created["lastModifiedAt"]
    assert [r["body"] for r in updated["replies"]] == ["first"]
    replied = ok(custify.post("/ticket/T-1/reply", json={"body": "second", "type": "outgoing"}))
    assert [r["body"] for r in replied["replies"]] == ["first", "second"]
    assert replied["replies"][1]["submittedAt"] is not None
    replaced = ok(custify.put("/ticket/T-1", json={"replies": [{"body": "only"}]}))
    assert [r["body"] for r in replaced["replies"]] == ["only"]
    assert "externalId" in error(custify.put("/ticket/T-1", json={"externalId": "T-9"}), 400)
    assert error(custify.put("/ticket/T-9", json={}), 404) == "Ticket not found"
    assert error(custify.post("/ticket/T-9/reply", json={"body": "x"}), 404) == "Ticket not found"
    assert "body" in error(custify.post("/ticket/T-1/reply", json={"type": "note"}), 400)


def test_delete(custify: httpx.Client) -> None:
    ticket(custify, "T-1")
    ok(custify.delete("/ticket/T-1"))
    assert error(custify.delete("/ticket/T-1"), 404) == "Ticket not found"
    assert ok(custify.get("/ticket")) == {"tickets": [], "total": 0}
    ticket(custify, "T-1")  # the externalId is free again


def test_listing_pages_sorts_and_filters(custify: httpx.Client) -> None:
    company(custify, "acme", owners_csm="csm@x.com")
    for n in range(30):
        ticket(
            custify,
            f"T-{n:02d}",
            title=f"Issue {n}",
            openedAt=f"2024-01-{n + 1:02d}",
            ticketStatus="open" if n % 2 else "closed",
            company="acme" if n < 5 else None,
        )
    newest_first = walk(custify, "/ticket", "tickets", 7)
    assert [t["externalId"] for t in newest_first] == [f"T-{n:02d}" for n in reversed(range(30))]
    ok(custify.put("/ticket/T-03", json={"title": "touched"}))
    by_change = ok(custify.get("/ticket", params={"sort": "lastModifiedAt", "itemsPerPage": 1}))
    assert by_change["tickets"][0]["externalId"] == "T-03"
    oldest = ok(custify.get("/ticket", params={"order": "asc", "itemsPerPage": 1}))
    assert oldest["tickets"][0]["externalId"] == "T-00"
    filters = [
        {"field": "ticketStatus", "values": ["OPEN"]},
        {"field": "csm", "values": ["csm@x.com"]},
    ]
    matched = ok(custify.get("/ticket", params={"filters": json.dumps(filters), "order": "asc"}))
    assert [t["externalId"] for t in matched["tickets"]] == ["T-01", "T-03"]
    assert ok(custify.get("/ticket", params={"searchTerm": "issue 2"}))["total"] == 11
    assert (
        ok(custify.get("/ticket", params={"externalId": "T-07"}))["tickets"][0]["title"]
        == "Issue 7"
    )
    assert len(ok(custify.get("/ticket", params={"itemsPerPage": 500}))["tickets"]) == 30


def test_entity_listing_detects_companies_and_people(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    ann = person(custify, "ann")
    ticket(custify, "T-1", company="acme")
    ticket(custify, "T-2", people="ann")
    assert [t["externalId"] for t in ok(custify.get(f"/ticket/{acme['id']}"))["tickets"]] == ["T-1"]
    assert [t["externalId"] for t in ok(custify.get(f"/ticket/{ann['id']}"))["tickets"]] == ["T-2"]
    assert custify.get(f"/ticket/{'e' * 24}").status_code == 404
