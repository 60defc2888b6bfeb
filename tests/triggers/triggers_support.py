"""A Custify sandbox to poll, with a hand on its records: create and update records of any
trigger's resource through the API (or, for resources Custify's API only reads, by seeding them
and changing them in the sandbox's state, as Custify's own UI would), and stop its clock so
records share a timestamp."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
from starlette.applications import Starlette

from csroute.custify.sandbox.state import State

API_KEY = "sandbox-key"
SEEDED = {
    "survey": "surveys",
    "meeting": "meetings",
    "health_score": "health_scores",
    "segment": "segments",
    "lifecycle": "lifecycles",
    "playbook": "playbooks",
    "customer_objective": "objectives",
}
TYPES = {"segment": ("people", "company"), "playbook": ("companies", "people")}


class Sandbox:
    def __init__(self, app: Starlette, url: str) -> None:
        self.app = app
        self.url = url
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"})
        self._n = itertools.count(1)
        self.company = self._ok(self.http.post("/company", json={"company_id": "acme"}))["id"]
        self.person = self._ok(self.http.post("/people", json={"user_id": "owner"}))["id"]
        self.tickets: dict[str, str] = {}  # internal id -> externalId

    @property
    def state(self) -> State:
        state: State = self.app.state.sandbox
        return state

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    def scope(self, resource: str) -> dict[str, Any] | None:
        return {"company": self.company} if resource in ("file", "customer_objective") else None

    def create(self, resource: str, count: int = 1) -> list[str]:
        """New records, in this order; their ids."""
        return [self._create(resource, next(self._n)) for _ in range(count)]

    def _create(self, resource: str, n: int) -> str:
        post = self.http.post
        if resource in SEEDED:
            record: dict[str, Any] = {"name": f"r{n}"}
            if resource in TYPES:
                record["type"] = TYPES[resource][n % 2]
            if resource == "survey":
                record["type"] = "nps"
            if resource == "customer_objective":
                record["company"] = self.company
            if resource == "meeting":
                record["title"] = f"m{n}"
            name = SEEDED[resource]
            return str(
                self._ok(self.http.post("/__sandbox/seed", json={name: [record]}))[name][0]["id"]
            )
        if resource == "person":
            body = self._ok(post("/people", json={"user_id": f"u{n}", "email": f"u{n}@x.io"}))
        elif resource == "note":
            note = {"text": f"n{n}", "entity": self.person, "entityModel": "Customer"}
            body = self._ok(post("/note", json=note))
        elif resource == "task":
            body = self._ok(
                post("/task", json={"name": f"t{n}", "priority": "low", "status": "open"})
            )
        elif resource == "ticket":
            body = self._ok(post("/ticket", json={"externalId": f"x{n}", "title": f"t{n}"}))
            body = self._find("tickets", "externalId", f"x{n}")
            self.tickets[body["id"]] = f"x{n}"
        elif resource == "file":
            files = {"file": (f"f{n}.txt", b"hello", "text/plain")}
            body = self._ok(post("/file", files=files, data={"companyId": self.company}))
        elif resource == "time_track":
            track = {"name": f"t{n}", "duration": 60, "startedDate": "2026-01-01T00:00:00Z"}
            body = self._ok(post("/time-track", params={"user": "csm@x.io"}, json=track))
        else:
            raise AssertionError(resource)
        return str(body["id"])

    def _find(self, collection: str, field: str, value: str) -> dict[str, Any]:
        found = [r for r in self.state.collection(collection).values() if r.get(field) == value]
        assert len(found) == 1
        return found[0]

    def update(self, resource: str, id: str) -> None:
        """Change a record, moving its ``updated_at`` (tickets: ``lastModifiedAt``)."""
        n = next(self._n)
        if resource in SEEDED:
            self.state.collection(SEEDED[resource])[id]["updated_at"] = self.state.stamp()
        elif resource == "person":
            user_id = self.state.people[id]["user_id"]
            self._ok(self.http.post("/people", json={"user_id": user_id, "name": f"p{n}"}))
        elif resource == "note":
            self._ok(self.http.post(f"/note/{id}", json={"text": f"changed {n}"}))
        elif resource == "task":
            self._ok(self.http.put(f"/task/{id}", json={"_id": id, "name": f"changed {n}"}))
        elif resource == "ticket":
            self._ok(self.http.put(f"/ticket/{self.tickets[id]}", json={"title": f"c{n}"}))
        elif resource == "time_track":
            params = {"user": "csm@x.io", "id": id}
            self._ok(self.http.put("/time-track", params=params, json={"name": f"c{n}"}))
        else:
            raise AssertionError(resource)

    @contextlib.contextmanager
    def frozen(self) -> Iterator[str]:
        """Every record written inside the block gets one and the same timestamp."""
        stamps = self.state.stamps
        stamp = stamps.next()
        stamps.next = lambda: stamp  # type: ignore[method-assign]
        try:
            yield stamp
        finally:
            del stamps.next  # type: ignore[attr-defined]
