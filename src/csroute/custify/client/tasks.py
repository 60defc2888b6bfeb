"""Tasks (docs/custify-api.md, "Tasks"); Update Task needs the internal ``_id``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call, query
from csroute.custify.client.envelopes import Record

PRIORITIES = ("low", "medium", "high")
STATUSES = ("open", "done", "not relevant")
MAX_PER_PAGE = 50


class Tasks(Group):
    async def create(self, body: Body = None, /, **fields: Any) -> Record:
        """``POST /task`` with ``name``, ``priority`` and ``status`` (all required)."""
        data = merged(body, fields)
        validate.required(data, "name", "priority", "status")
        validate.choice(data, "priority", PRIORITIES)
        validate.choice(data, "status", STATUSES)
        return await self._record(Call("POST", "/task", body=data))

    async def update(self, id: str, body: Body = None, /, **fields: Any) -> Record:
        """``PUT /task/{id}`` with ``_id`` and only the changed fields."""
        data = {**merged(body, fields), "_id": id}
        validate.choice(data, "priority", PRIORITIES)
        validate.choice(data, "status", STATUSES)
        return await self._record(Call("PUT", f"/task/{id}", body=data))

    async def get(self, id: str | None = None, *, external_id: str | None = None) -> Record:
        name, value = validate.exactly_one(id=id, external_id=external_id)
        if name == "id":
            call = Call("GET", f"/task/{value}")
        else:
            call = Call("GET", "/task", query(externalId=value))
        return await self._one(call, "tasks", f"task with {name} {value}")

    def list(self, *, per_page: int | None = None, **params: Any) -> AsyncIterator[Record]:
        return self._list("/task", "tasks", MAX_PER_PAGE, per_page, params)
