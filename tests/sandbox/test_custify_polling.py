"""Custify sandbox: what the polling triggers (docs/triggers.md) rely on. Each trigger's list
call, sorted newest first by creation and by change, orders records as they were written and
changed, with each resource's own sorting convention and envelope."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from custify_helpers import company, ok, sorting

Record = dict[str, Any]


def _people(api: httpx.Client, n: int) -> Record:
    created: Record = ok(api.post("/people", json={"user_id": f"u{n}"}))
    return created


def _note(api: httpx.Client, n: int) -> Record:
    acme = company(api, "acme") if n == 0 else ok(api.get("/company/all"))["companies"][0]
    body = {"text": f"note {n}", "entity": acme["id"], "entityModel": "Company"}
    created: Record = ok(api.post("/note", json=body))
    return created


def _task(api: httpx.Client, n: int) -> Record:
    created: Record = ok(api.post("/task", json={"name": f"task {n}", "priority": "low"}))
    return created


def _ticket(api: httpx.Client, n: int) -> Record:
    created: Record = ok(api.post("/ticket", json={"externalId": f"T-{n}"}))
    return created


def _time_track(api: httpx.Client, n: int) -> Record:
    body = {"name": f"call {n}", "duration": 60, "startedDate": "2024-01-01"}
    created: Record = ok(api.post("/time-track", params={"user": "u"}, json=body))
    return created


Make = Callable[[httpx.Client, int], Record]
Touch = Callable[[httpx.Client, Record], Any]
# resource: (create one, change one, list path, response key, params sorting by a field desc)
TRIGGERS: dict[str, tuple[Make, Touch, str, str, Callable[[str], dict[str, str]]]] = {
    "people": (
        _people,
        lambda api, r: api.post("/people", json={"user_id": r["user_id"], "name": "changed"}),
        "/people/all",
        "people",
        lambda field: {"sorting": sorting(field)},
    ),
    "notes": (
        _note,
        lambda api, r: api.post(f"/note/{r['id']}", json={"sticky": True}),
        "/note",
        "notes",
        lambda field: {"sort": field, "order": "desc"},
    ),
    "tasks": (
        _task,
        lambda api, r: api.put(f"/task/{r['id']}", json={"_id": r["id"], "status": "done"}),
        "/task",
        "tasks",
        lambda field: {"sorting": sorting(field)},
    ),
    "tickets": (
        _ticket,
        lambda api, r: api.put(f"/ticket/{r['externalId']}", json={"ticketStatus": "closed"}),
        "/ticket",
        "tickets",
        lambda field: {"sort": {"created_at": "openedAt", "updated_at": "lastModifiedAt"}[field]},
    ),
    "time tracks": (
        _time_track,
        lambda api, r: api.put("/time-track", params={"user": "u", "id": r["id"]}, json={}),
        "/time-track",
        "time_track",
        lambda field: {"sorting": sorting(field)},
    ),
}


def _ids(api: httpx.Client, path: str, key: str, params: dict[str, str]) -> list[str]:
    body = ok(api.get(path, params=params))
    items = body[0][key] if isinstance(body, list) else body[key]
    return [item["id"] for item in items]


@pytest.mark.parametrize("resource", TRIGGERS)
def test_created_and_updated_orders(custify: httpx.Client, resource: str) -> None:
    make, touch, path, key, by = TRIGGERS[resource]
    first, second, third = (make(custify, n) for n in range(3))
    assert _ids(custify, path, key, by("created_at")) == [third["id"], second["id"], first["id"]]
    ok(touch(custify, first))
    assert _ids(custify, path, key, by("updated_at")) == [first["id"], third["id"], second["id"]]
    assert _ids(custify, path, key, by("created_at"))[-1] == first["id"]


def test_people_date_filter_on_updated_at(custify: httpx.Client) -> None:
    for n in range(3):
        _people(custify, n)
    after = [
        {
            "fieldName": "updated_at",
            "fieldType": "Date",
            "filterType": "after",
            "filterValue": "2000-01-01",
        }
    ]
    assert ok(custify.get("/people/all", params={"filters": json.dumps(after)}))[0]["total"] == 3
    after[0]["filterValue"] = "2999-01-01"
    assert ok(custify.get("/people/all", params={"filters": json.dumps(after)}))[0]["total"] == 0
