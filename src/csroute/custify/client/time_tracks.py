"""Time tracks (docs/custify-api.md, "Time tracks"). The path is a connection setting
(``/time-track`` in the spec, ``/time_track`` in its samples); ``user`` (who logged the time) is a
required query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call, query
from csroute.custify.client.envelopes import Record

MAX_PER_PAGE = 50


class TimeTracks(Group):
    @property
    def _path(self) -> str:
        return self._core.connection.time_track_path

    async def create(
        self, body: Body = None, /, *, user: str, owner: Body = None, **fields: Any
    ) -> Record:
        """``POST ?user=`` with ``name``, ``duration`` (seconds) and ``startedDate``. ``owner``
        holds ``company_id``/``user_id``/``email`` when the body does not use internal ids."""
        data = merged(body, fields)
        validate.required(data, "name", "duration", "startedDate")
        return await self._send("POST", data, user, owner)

    async def update(
        self, id: str, body: Body = None, /, *, user: str, owner: Body = None, **fields: Any
    ) -> Record:
        """``PUT ?user=``. Custify does not say how the record is named, so its internal id is
        sent both as the ``id`` query parameter and in the body."""
        data = {**merged(body, fields), "id": id}
        return await self._send("PUT", data, user, owner, id=id)

    async def _send(
        self, method: str, data: Record, user: str, owner: Body, **extra: str
    ) -> Record:
        validate.required({"user": user}, "user")
        params = query(user=user, **extra, **(owner or {}))
        return await self._record(Call(method, self._path, params, data))

    async def delete(self, id: str) -> Record:
        return await self._record(Call("DELETE", self._path, query(id=id)))

    def list(self, *, per_page: int | None = None, **params: Any) -> AsyncIterator[Record]:
        return self._list(self._path, "time_track", MAX_PER_PAGE, per_page, params)
