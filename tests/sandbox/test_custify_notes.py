"""Custify sandbox: notes (create, update, list all and per entity, sort/order, searchTerm, the
[{field, values}] filters), over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
from custify_helpers import company, error, ok, person, walk


def note(api: httpx.Client, entity: dict[str, Any], text: str, **fields: Any) -> dict[str, Any]:
    model = "Company" if "company_id" in entity else "Customer"
    body = {"text": text, "entity": entity["id"], "entityModel": model, **fields}
    created: dict[str, Any] = ok(api.post("/note", json=body))
    return created


def test_create_and_update_a_note(custify: httpx.Client) -> None:
    acme = company(custify, "acme", name="Acme")
    ann = person(custify, "ann", name="Ann", companies=[{"company_id": "acme"}])
    on_acme = note(custify, acme, "<p>Renewal call</p>", sticky=True)
    assert (on_acme["entityModel"], on_acme["entityName"], on_acme["company"]) == (
        "Company",
        "Acme",
        [acme["id"]],
    )
    assert on_acme["sticky"] is True and on_acme["createdByType"] == "api"
    on_ann = note(custify, ann, "Met Ann", metadata={"mentionedUsers": ["csm@x.com"]})
    assert (on_ann["people"], on_ann["company"]) == ([ann["id"]], [acme["id"]])
    updated = ok(custify.post(f"/note/{on_ann['id']}", json={"text": "Met Ann again"}))
    assert (updated["id"], updated["text"], updated["entity"]) == (
        on_ann["id"],
        "Met Ann again",
        ann["id"],
    )
    assert updated["updated_at"] > on_ann["updated_at"]
    assert updated["created_at"] == on_ann["created_at"]
    assert error(custify.post(f"/note/{'a' * 24}", json={"text": "x"}), 404) == "Note not found"


def test_required_fields_and_unknown_entities(custify: httpx.Client) -> None:
    ann = person(custify, "ann")
    body = {"text": "hi", "entity": ann["id"], "entityModel": "Customer"}
    assert "text" in error(custify.post("/note", json={**body, "text": None}), 400)
    missing_entity = {"text": "hi"}
    assert "entity" in error(custify.post("/note", json=missing_entity), 400)
    assert "entityModel" in error(
        custify.post("/note", json={**body, "entityModel": "Person"}), 400
    )
    unknown = {**body, "entity": "c" * 24}
    assert error(custify.post("/note", json=unknown), 404) == "People not found"
    wrong_model = {**body, "entityModel": "Company"}
    assert error(custify.post("/note", json=wrong_model), 404) == "Company not found"
    assert ok(custify.get("/note"))["total"] == 0


def test_listing_pages_sorts_searches_and_filters(custify: httpx.Client) -> None:
    ann = person(custify, "ann")
    made = [note(custify, ann, f"note {n:02d}") for n in range(23)]
    everything = walk(custify, "/note", "notes", 5)
    assert [n["id"] for n in everything] == [n["id"] for n in reversed(made)]
    oldest = ok(
        custify.get("/note", params={"sort": "created_at", "order": "asc", "itemsPerPage": 2})
    )
    assert [n["id"] for n in oldest["notes"]] == [made[0]["id"], made[1]["id"]]
    found = ok(custify.get("/note", params={"searchTerm": "NOTE 1"}))
    assert found["total"] == 10
    tagged = ok(custify.post(f"/note/{made[3]['id']}", json={"tags": ["t1"]}))
    filters = [
        {"field": "tags", "values": ["t1", "t2"]},
        {"field": "createdByEntity", "values": ["api"]},
    ]
    by_tag = ok(custify.get("/note", params={"filters": json.dumps(filters)}))
    assert by_tag == {"notes": [tagged], "total": 1}
    by_user = [{"field": "createdByEntity", "values": ["user_1"]}]
    assert ok(custify.get("/note", params={"filters": json.dumps(by_user)}))["total"] == 0
    bad = [{"field": "color", "values": ["red"]}]
    assert "field" in error(custify.get("/note", params={"filters": json.dumps(bad)}), 400)


def test_entity_listing_puts_sticky_notes_first(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    other = company(custify, "other")
    first = note(custify, acme, "first")
    pinned = note(custify, acme, "pinned", sticky=True)
    latest = note(custify, acme, "latest")
    note(custify, other, "elsewhere")
    listed = ok(custify.get(f"/note/{acme['id']}"))
    assert [n["id"] for n in listed["notes"]] == [pinned["id"], latest["id"], first["id"]]
    assert listed["total"] == 3
    assert ok(custify.get(f"/note/{'d' * 24}")) == {"notes": [], "total": 0}
    slash = {"text": "by /note/", "entity": acme["id"], "entityModel": "Company"}
    assert ok(custify.post("/note/", json=slash))["text"] == "by /note/"
    assert ok(custify.get("/note/"))["total"] == 5
