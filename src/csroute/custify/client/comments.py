"""Comments on notes and tasks (docs/custify-api.md, "Comments"): one call creates, or updates with
``id``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call
from csroute.custify.client.envelopes import Record

EntityModel = Literal["Note", "Task"]
MAX_PER_PAGE = 50


def _path(entity_model: str, entity: str) -> str:
    validate.choice({"entity_model": entity_model}, "entity_model", ("Note", "Task"))
    return f"/comment/{entity_model}/{entity}"


class Comments(Group):
    async def upsert(
        self,
        entity_model: EntityModel,
        entity: str,
        body: Body = None,
        /,
        *,
        id: str | None = None,
        **fields: Any,
    ) -> Record:
        """``POST /comment/{Note|Task}/{entity}``: updates the comment ``id`` when given."""
        data = merged(body, fields) | ({"id": id} if id else {})
        validate.required(data, "text")
        return await self._record(Call("POST", _path(entity_model, entity), body=data))

    async def create(
        self, entity_model: EntityModel, entity: str, body: Body = None, /, **fields: Any
    ) -> Record:
        if (body or {}).get("id") or fields.get("id"):
            raise validate.invalid("id", "a new comment has no id (use update or upsert)")
        return await self.upsert(entity_model, entity, body, **fields)

    async def update(
        self, entity_model: EntityModel, entity: str, id: str, body: Body = None, /, **fields: Any
    ) -> Record:
        return await self.upsert(entity_model, entity, body, id=id, **fields)

    def list(
        self, entity_model: EntityModel, entity: str, *, per_page: int | None = None, **params: Any
    ) -> AsyncIterator[Record]:
        return self._list(_path(entity_model, entity), "comments", MAX_PER_PAGE, per_page, params)
