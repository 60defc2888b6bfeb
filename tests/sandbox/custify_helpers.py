"""Helpers for the Custify sandbox resource tests (their fixtures are in conftest.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx

AUTH = {"Authorization": "Bearer sandbox-key"}


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have ``status``."""
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def error(response: httpx.Response, status: int) -> str:
    """The message of a Custify error body, which carries it under both keys."""
    body = ok(response, status)
    assert body["error"] == body["message"]
    message: str = body["message"]
    return message


def person(api: httpx.Client, user_id: str, **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = ok(api.post("/people", json={"user_id": user_id, **fields}))
    return result


def company(api: httpx.Client, company_id: str, **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = ok(api.post("/company", json={"company_id": company_id, **fields}))
    return result


def seed(api: httpx.Client, **records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = ok(api.post("/__sandbox/seed", json=records))
    return result


def walk(
    api: httpx.Client, path: str, key: str, per_page: int, **params: Any
) -> list[dict[str, Any]]:
    """Every record of a listing, read page by page until ``page*itemsPerPage >= total``; each page
    must report the same total and be full except the last."""
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        query = {**params, "page": page, "itemsPerPage": per_page}
        body = ok(api.get(path, params=query))
        if isinstance(body, list):  # the people listings wrap their object in an array
            body = body[0]
        records += body[key]
        if page * per_page >= body["total"]:
            assert len(records) == body["total"]
            return records
        assert len(body[key]) == per_page
        page += 1


def sorting(field: str, direction: str = "desc") -> str:
    return json.dumps({"field": field, "direction": direction})
