"""Custify sandbox: tasks (create, get as a list, update by _id, listing with sorting and filters,
filter values) and comments on notes and tasks, over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
from custify_helpers import company, error, ok, person, sorting, walk


def task(api: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = ok(
        api.post("/task", json={"name": name, "priority": "low", **fields})
    )
    return created


def test_create_returns_a_task_listing(custify: httpx.Client) -> None:
    acme = company(custify, "acme", name="Acme")
    ann = person(custify, "ann")
    created = task(
        custify,
        "Call Acme",
        company_id="acme",
        user_id="ann",
        assignedTo="csm@x.com",
        dueDate="2024-06-01",
        checklist=[{"name": "agenda", "completed": False}],
        externalId="ext-1",
    )
    assert (created["company"], created["people"], created["status"]) == (
        acme["id"],
        ann["id"],
        "open",
    )
    assert created["assignedToEmail"] == "csm@x.com" and created["completedAt"] is None
    assert created["dueDate"] == "2024-06-01T00:00:00.000Z"
    assert {
        "id",
        "assignedToName",
        "collaboratorsDetailed",
        "completedBy",
        "created_at",
        "updated_at",
    } <= set(created)
    assert ok(custify.get(f"/task/{created['id']}")) == {"tasks": [created], "total": 1}
    assert ok(custify.get("/task", params={"externalId": "ext-1"})) == {
        "tasks": [created],
        "total": 1,
    }
    assert ok(custify.get(f"/task/{'a' * 24}")) == {"tasks": [], "total": 0}
    assert ok(custify.get("/task", params={"externalId": "none"})) == {"tasks": [], "total": 0}


def test_required_fields_are_named(custify: httpx.Client) -> None:
    assert "name" in error(custify.post("/task", json={"priority": "low"}), 400)
    assert "priority" in error(custify.post("/task", json={"name": "x"}), 400)
    assert "priority" in error(custify.post("/task", json={"name": "x", "priority": "urgent"}), 400)
    assert "status" in error(
        custify.post("/task", json={"name": "x", "priority": "low", "status": "later"}), 400
    )
    no_completed = {"name": "x", "priority": "low", "checklist": [{"name": "a"}]}
    assert "checklist[0].completed" in error(custify.post("/task", json=no_completed), 400)
    unknown_company = {"name": "x", "priority": "low", "company": "b" * 24}
    assert error(custify.post("/task", json=unknown_company), 404) == "Company not found"
    assert ok(custify.get("/task"))["total"] == 0


def test_mcp_create_shape_is_accepted(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    body = {
        "metadata": {
            "title": "Follow up",
            "entity": acme["id"],
            "entityModel": "Company",
            "priority": "high",
            "assignees": ["a@x.com", "b@x.com"],
        }
    }
    created = ok(custify.post("/task", json=body))
    assert (created["name"], created["company"], created["assignedTo"]) == (
        "Follow up",
        acme["id"],
        "a@x.com",
    )
    assert created["collaborators"] == ["b@x.com"]


def test_update_by_id_changes_only_what_is_sent(custify: httpx.Client) -> None:
    created = task(custify, "Call", description="agenda")
    done = ok(custify.put(f"/task/{created['id']}", json={"_id": created["id"], "status": "done"}))
    assert (done["status"], done["description"], done["name"]) == ("done", "agenda", "Call")
    assert done["completedAt"] is not None and done["updated_at"] > created["updated_at"]
    reopened = ok(
        custify.put(f"/task/{created['id']}", json={"_id": created["id"], "status": "open"})
    )
    assert reopened["completedAt"] is None
    assert "_id" in error(custify.put(f"/task/{created['id']}", json={"status": "done"}), 400)
    other = "c" * 24
    assert "_id" in error(custify.put(f"/task/{created['id']}", json={"_id": other}), 400)
    assert error(custify.put(f"/task/{other}", json={"_id": other}), 404) == "Task not found"
    assert "name" in error(
        custify.put(f"/task/{created['id']}", json={"_id": created["id"], "name": None}), 400
    )


def test_listing_pages_sorts_and_filters(custify: httpx.Client) -> None:
    acme = company(custify, "acme", name="Acme")
    made = [
        task(
            custify,
            f"task {n:02d}",
            priority="high" if n % 2 else "low",
            company=acme["id"] if n < 4 else None,
            dueDate="2020-01-01" if n == 5 else "2999-01-01",
            tags=["t1"] if n == 7 else [],
        )
        for n in range(12)
    ]
    assert [t["id"] for t in walk(custify, "/task", "tasks", 5)] == [
        t["id"] for t in reversed(made)
    ]
    clamped = ok(custify.get("/task", params={"itemsPerPage": 100}))
    assert len(clamped["tasks"]) == 12
    ok(custify.put(f"/task/{made[2]['id']}", json={"_id": made[2]["id"], "name": "renamed"}))
    updated_first = ok(
        custify.get("/task", params={"sorting": sorting("updated_at"), "itemsPerPage": 1})
    )
    assert updated_first["tasks"][0]["id"] == made[2]["id"]

    def names(*filters: dict[str, Any]) -> list[str]:
        params = {"filters": json.dumps(list(filters)), "sorting": sorting("created_at", "asc")}
        return [t["name"] for t in ok(custify.get("/task", params=params))["tasks"]]

    assert names({"field": "company", "values": [acme["id"]]}) == [
        "task 00",
        "task 01",
        "renamed",
        "task 03",
    ]
    assert names({"field": "status", "values": ["overdue"]}) == ["task 05"]
    assert names(
        {"field": "tags", "values": ["t1"]}, {"field": "status", "values": ["open", "done"]}
    ) == ["task 07"]
    searched = ok(custify.get("/task", params={"searchTerm": "TASK 1"}))
    assert searched["total"] == 2
    values = ok(custify.get("/task/filtersAvailableValues"))
    assert values["company"] == [{"id": acme["id"], "name": "Acme"}] and values["tags"] == [
        {"id": "t1"}
    ]


def test_comments_on_notes_and_tasks(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    a_note = ok(
        custify.post("/note", json={"text": "n", "entity": acme["id"], "entityModel": "Company"})
    )
    a_task = task(custify, "t")
    first = ok(
        custify.post(
            f"/comment/Note/{a_note['id']}", json={"text": "first", "createdBy": "csm@x.com"}
        )
    )
    assert (first["entity"], first["entityModel"], first["text"]) == (a_note["id"], "Note", "first")
    second = ok(custify.post(f"/comment/Note/{a_note['id']}", json={"text": "second"}))
    edited = ok(
        custify.post(f"/comment/Note/{a_note['id']}", json={"text": "edited", "id": first["id"]})
    )
    assert (edited["id"], edited["createdBy"]) == (first["id"], "csm@x.com")
    ok(custify.post(f"/comment/Task/{a_task['id']}", json={"text": "on task"}))
    listed = ok(custify.get(f"/comment/Note/{a_note['id']}"))
    assert [c["id"] for c in listed["comments"]] == [second["id"], first["id"]] and listed[
        "total"
    ] == 2
    oldest = ok(
        custify.get(f"/comment/Note/{a_note['id']}", params={"order": "asc", "itemsPerPage": 1})
    )
    assert oldest == {"comments": [edited], "total": 2}
    assert ok(custify.get(f"/comment/Task/{a_task['id']}"))["total"] == 1
    assert "text" in error(custify.post(f"/comment/Task/{a_task['id']}", json={}), 400)
    assert "entityModel" in error(
        custify.post(f"/comment/Ticket/{a_task['id']}", json={"text": "x"}), 400
    )
    assert (
        error(custify.post(f"/comment/Task/{a_note['id']}", json={"text": "x"}), 404)
        == "Task not found"
    )
    assert error(
        custify.post(f"/comment/Task/{a_task['id']}", json={"text": "x", "id": first["id"]}), 404
    ) == ("Comment not found")
    assert ok(custify.get(f"/comment/Task/{'f' * 24}")) == {"comments": [], "total": 0}
    for n in range(60):
        ok(custify.post(f"/comment/Task/{a_task['id']}", json={"text": f"c{n}"}))
    assert len(walk(custify, f"/comment/Task/{a_task['id']}", "comments", 50)) == 61
