"""Financial deals, invoices and subscriptions (docs/custify-api.md, "Deals, invoices,
subscriptions"): one class, three types, keyed by your ``externalId`` or by the record's internal id
(``entity``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call, Core, query
from csroute.custify.client.envelopes import Record

TYPES = {"deal": "deals", "invoice": "invoices", "subscription": "subscriptions"}
MAX_PER_PAGE = 50


class Financials(Group):
    def __init__(self, core: Core, type: str) -> None:
        super().__init__(core)
        self.type = type
        self.key = TYPES[type]
        self.path = f"/financial/{type}"

    async def create(self, body: Body = None, /, **fields: Any) -> Record:
        """``POST /financial/{type}`` with ``externalId`` (required: it is the upsert key)."""
        data = merged(body, fields)
        validate.required(data, "externalId")
        return await self._record(Call("POST", self.path, body=data))

    async def update(
        self, body: Body = None, /, *, entity: str | None = None, **fields: Any
    ) -> Record:
        """By internal id (``entity``), else by the body's ``externalId``, which Custify
        requires on every write."""
        data = merged(body, fields)
        validate.required(data, "externalId")
        path = f"{self.path}/{entity}" if entity else self.path
        return await self._record(Call("POST", path, body=data))

    async def upsert(
        self, body: Body = None, /, *, entity: str | None = None, **fields: Any
    ) -> Record:
        """The same calls as ``update``: Custify upserts by ``externalId`` itself."""
        return await self.update(body, entity=entity, **fields)

    async def delete(self, entity: str | None = None, *, external_id: str | None = None) -> Record:
        name, value = validate.exactly_one(entity=entity, external_id=external_id)
        if name == "entity":
            return await self._record(Call("DELETE", f"{self.path}/{value}"))
        return await self._record(Call("DELETE", self.path, query(externalId=value)))

    async def get(self, entity: str) -> Record:
        """One record by internal id; Custify answers the bare object when one matches."""
        call = Call("GET", f"{self.path}/{entity}")
        return await self._one(call, self.key, f"{self.type} {entity}")

    def list(self, *, per_page: int | None = None, **params: Any) -> AsyncIterator[Record]:
        return self._list(self.path, self.key, MAX_PER_PAGE, per_page, params)
