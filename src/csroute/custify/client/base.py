"""What every resource group shares: its core, body merging, and envelope-aware helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from csroute.custify.client.core import Call, Core, query
from csroute.custify.client.envelopes import Record, as_record, one

Body = Mapping[str, Any] | None


def merged(body: Body, fields: Mapping[str, Any]) -> Record:
    """A request body from a mapping and keyword fields (keywords win); ``$unset`` and other
    keys that are not identifiers can only come through the mapping."""
    return {**(body or {}), **fields}


class Group:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def _record(self, call: Call) -> Record:
        return as_record(await self._core.request(call))

    async def _one(self, call: Call, key: str, what: str) -> Record:
        body = await self._core.request(call)
        return {} if self._core.dry_run else one(body, key, what)

    def _list(
        self, path: str, key: str, max_per_page: int, per_page: int | None, params: Any
    ) -> AsyncIterator[Record]:
        size = min(per_page or max_per_page, max_per_page)
        return self._core.pages(Call("GET", path, query(**params)), key, size)


class ReadOnly(Group):
    """A read-only resource with a listing and a get by internal id (docs/custify-api.md, "Other
    read-only resources")."""

    path = ""
    key = ""
    max_per_page = 50

    def list(self, *, per_page: int | None = None, **params: Any) -> AsyncIterator[Record]:
        """Every record; ``params`` are Custify's (``sorting``, ``type``, ``filters``...)."""
        return self._list(self.path, self.key, self.max_per_page, per_page, params)

    async def get(self, id: str) -> Record:
        return await self._one(Call("GET", f"{self.path}/{id}"), self.key, f"{self.path}/{id}")
