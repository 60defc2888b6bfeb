"""Companies (docs/custify-api.md, "Companies"): upsert by ``id`` → ``company_id``, Create/Update
with a lookup first, and every read answered as ``{"companies": [...], "total": n}``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from csroute.custify import api
from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call, query
from csroute.custify.client.envelopes import Record
from csroute.custify.client.errors import Conflict, NotFound

MAX_PER_PAGE = 200
STRING_FIELDS = ("company_id", "name", "website", "industry", "plan")


def check_company(data: Record) -> None:
    validate.any_of(data, "id", "company_id")
    validate.strings(data, STRING_FIELDS, api.MAX_STRING_LENGTH)
    validate.custom_attributes(data, currency=True)


class Companies(Group):
    async def upsert(self, body: Body = None, /, **fields: Any) -> Record:
        """``POST /company``; ``company_id`` itself can never be changed."""
        data = merged(body, fields)
        check_company(data)
        return await self._record(Call("POST", "/company", body=data))

    async def create(self, body: Body = None, /, **fields: Any) -> Record:
        """Create Company: Conflict if the id or ``company_id`` already exists."""
        data = merged(body, fields)
        check_company(data)
        validate.required(data, "company_id")
        if not self._core.dry_run and (found := await self.match(data)) is not None:
            raise Conflict(f"company already exists (id {found.get('id')})", status=409)
        return await self._record(Call("POST", "/company", body=data))

    async def update(self, body: Body = None, /, **fields: Any) -> Record:
        """Update Company: NotFound if no company matches; then upserts by internal id."""
        data = merged(body, fields)
        check_company(data)
        if not self._core.dry_run:
            found = await self.match(data)
            if found is None:
                raise NotFound("no company matches id or company_id", status=404)
            data = {**data, "id": found["id"]}
        return await self._record(Call("POST", "/company", body=data))

    async def match(self, data: Record) -> Record | None:
        try:
            if data.get("id"):
                return await self.get(data["id"])
            return await self.get(company_id=data["company_id"])
        except NotFound:
            return None

    async def get(self, id: str | None = None, *, company_id: str | None = None) -> Record:
        name, value = validate.exactly_one(id=id, company_id=company_id)
        if name == "id":
            call = Call("GET", f"/company/{value}")
        else:
            call = Call("GET", "/company", query(company_id=value))
        return await self._one(call, "companies", f"company with {name} {value}")

    def list(self, *, per_page: int | None = None, **params: Any) -> AsyncIterator[Record]:
        """``GET /company/all``: every company."""
        return self._list("/company/all", "companies", MAX_PER_PAGE, per_page, params)

    def people(self, id: str, *, per_page: int | None = None) -> AsyncIterator[Record]:
        """``GET /company/people/{id}``: the people of a company (by its internal id)."""
        return self._list(f"/company/people/{id}", "people", MAX_PER_PAGE, per_page, {})

    async def delete(self, id: str | None = None, *, company_id: str | None = None) -> Record:
        """Permanent, including the company's events."""
        name, value = validate.exactly_one(id=id, company_id=company_id)
        if name == "id":
            return await self._record(Call("DELETE", f"/company/{value}"))
        return await self._record(Call("DELETE", "/company", query(company_id=value)))
