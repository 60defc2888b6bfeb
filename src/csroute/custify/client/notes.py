"""Notes (docs/custify-api.md, "Notes"), attached to a person (``Customer``) or a company
(``Company``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call
from csroute.custify.client.envelopes import Record

ENTITY_MODELS = ("Customer", "Company")
MAX_PER_PAGE = 50


def check_note(data: Record) -> None:
    validate.required(data, "text", "entity", "entityModel")
    validate.choice(data, "entityModel", ENTITY_MODELS)


class Notes(Group):
    async def create(self, body: Body = None, /, **fields: Any) -> Record:
        """``POST /note`` with ``text``, ``entity`` (internal id) and ``entityModel``."""
        data = merged(body, fields)
        check_note(data)
        return await self._record(Call("POST", "/note", body=data))

    async def update(self, id: str, body: Body = None, /, **fields: Any) -> Record:
        """``POST /note/{id}``: only the fields sent change."""
        data = merged(body, fields)
        validate.choice(data, "entityModel", ENTITY_MODELS)
        return await self._record(Call("POST", f"/note/{id}", body=data))

    async def upsert(self, body: Body = None, /, *, id: str | None = None, **fields: Any) -> Record:
        """Update when the note's internal id is known, otherwise create."""
        return await (self.update(id, body, **fields) if id else self.create(body, **fields))

    def list(
        self, entity: str | None = None, *, per_page: int | None = None, **params: Any
    ) -> AsyncIterator[Record]:
        """Every note (``GET /note``), or those of one person or company (``GET /note/{id}``)."""
        path = f"/note/{entity}" if entity else "/note"
        return self._list(path, "notes", MAX_PER_PAGE, per_page, params)
