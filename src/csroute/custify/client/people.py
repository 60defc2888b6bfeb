"""People (docs/custify-api.md, "People"): upsert, and Create/Update that keep their meaning by
looking up first with Custify's own order ``id`` → ``user_id`` → ``email``
(docs/custify-client.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from csroute.custify import api
from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call, query
from csroute.custify.client.envelopes import Record, items
from csroute.custify.client.errors import Conflict, NotFound

MAX_PER_PAGE = 200
STRING_FIELDS = ("user_id", "email", "name", "phone")


def check_person(data: Record) -> None:
    validate.any_of(data, "id", "user_id", "email")
    validate.strings(data, STRING_FIELDS, api.MAX_STRING_LENGTH)
    validate.custom_attributes(data)


class People(Group):
    async def upsert(self, body: Body = None, /, **fields: Any) -> Record:
        """``POST /people``: updates the match by ``id`` → ``user_id`` → ``email``, else creates."""
        data = merged(body, fields)
        check_person(data)
        return await self._record(Call("POST", "/people", body=data))

    async def create(self, body: Body = None, /, **fields: Any) -> Record:
        """Create Person: Conflict if the upsert would update someone who already exists."""
        data = merged(body, fields)
        check_person(data)
        validate.any_of(data, "user_id", "email")
        if not self._core.dry_run and (found := await self.match(data)) is not None:
            raise Conflict(f"person already exists (id {found.get('id')})", status=409)
        return await self._record(Call("POST", "/people", body=data))

    async def update(self, body: Body = None, /, **fields: Any) -> Record:
        """Update Person: NotFound if nobody matches; the upsert then names the internal id, so
        it can never create a record or land on another one."""
        data = merged(body, fields)
        check_person(data)
        if not self._core.dry_run:
            found = await self.match(data)
            if found is None:
                raise NotFound("no person matches id, user_id or email", status=404)
            data = {**data, "id": found["id"]}
        return await self._record(Call("POST", "/people", body=data))

    async def match(self, data: Record) -> Record | None:
        """The person an upsert of ``data`` would update, or None when it would create one."""
        if data.get("id"):
            try:
                return await self.get(data["id"])
            except NotFound:
                return None
        user_id, email = data.get("user_id"), data.get("email")
        if user_id:
            same = await self._find(user_id=user_id)
            if same:
                return same[0]
        if email:
            for person in await self._find(email=email):
                if not user_id or not person.get("user_id"):
                    return person
        return None

    async def _find(self, **identifier: str) -> list[Record]:
        body = await self._core.request(Call("GET", "/people", query(**identifier)))
        return items(body, "people")[0]

    async def get(
        self, id: str | None = None, *, user_id: str | None = None, email: str | None = None
    ) -> Record:
        """By internal id, ``user_id`` or ``email``; NotFound when nobody matches."""
        name, value = validate.exactly_one(id=id, user_id=user_id, email=email)
        if name == "id":
            return await self._one(Call("GET", f"/people/{value}"), "people", f"person {value}")
        call = Call("GET", "/people", query(**{name: value}))
        return await self._one(call, "people", f"person with {name} {value}")

    def list(self, *, per_page: int | None = None, **params: Any) -> AsyncIterator[Record]:
        """``GET /people/all``: every person (``sorting``, ``filters`` as Custify takes them)."""
        return self._list("/people/all", "people", MAX_PER_PAGE, per_page, params)

    async def delete(
        self, id: str | None = None, *, user_id: str | None = None, email: str | None = None
    ) -> Record:
        """Permanent, including the person's events (GDPR "forget me")."""
        name, value = validate.exactly_one(id=id, user_id=user_id, email=email)
        if name == "id":
            return await self._record(Call("DELETE", f"/people/{value}"))
        return await self._record(Call("DELETE", "/people", query(**{name: value})))

    async def tag(
        self, ids: Sequence[str], tag: str, *, type: Literal["add", "remove"] = "add"
    ) -> Record:
        """Add or remove a tag (by tag id) on people (by internal ids): ``POST /people/tag``."""
        data = {"ids": list(ids), "type": type, "tag": tag}
        validate.required(data, "ids", "tag")
        validate.choice(data, "type", ("add", "remove"))
        return await self._record(Call("POST", "/people/tag", body=data))
