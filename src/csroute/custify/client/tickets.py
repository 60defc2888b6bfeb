"""Tickets, keyed by your ``externalId`` (docs/custify-api.md, "Tickets")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call
from csroute.custify.client.envelopes import Record

REPLY_TYPES = ("note", "incoming", "outgoing")
MAX_PER_PAGE = 200


def _path(external_id: str) -> str:
    return f"/ticket/{quote(external_id, safe='')}"


class Tickets(Group):
    async def create(self, body: Body = None, /, **fields: Any) -> Record:
        """``POST /ticket``; ``externalId`` is the key every later call uses."""
        data = merged(body, fields)
        validate.required(data, "externalId")
        return await self._record(Call("POST", "/ticket", body=data))

    async def update(self, external_id: str, body: Body = None, /, **fields: Any) -> Record:
        """``PUT /ticket/{externalId}``: only the fields sent change, but ``replies`` replaces
        every reply."""
        return await self._record(Call("PUT", _path(external_id), body=merged(body, fields)))

    async def delete(self, external_id: str) -> Record:
        return await self._record(Call("DELETE", _path(external_id)))

    async def reply(self, external_id: str, body: Body = None, /, **fields: Any) -> Record:
        """``POST /ticket/{externalId}/reply``: ``body``, ``from``, ``submittedAt``, ``type``."""
        data = merged(body, fields)
        validate.required(data, "body")
        validate.choice(data, "type", REPLY_TYPES)
        return await self._record(Call("POST", _path(external_id) + "/reply", body=data))

    def list(
        self, entity: str | None = None, *, per_page: int | None = None, **params: Any
    ) -> AsyncIterator[Record]:
        """Every ticket, or those of one person or company (by internal id)."""
        path = f"/ticket/{entity}" if entity else "/ticket"
        return self._list(path, "tickets", MAX_PER_PAGE, per_page, params)
