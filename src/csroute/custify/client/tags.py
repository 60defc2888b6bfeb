"""Tags (docs/custify-api.md, "Tags"). ``GET /tag/{id}`` answers an empty list for an unknown id and
503 for a malformed one, so ids are checked locally and an empty answer is NotFound."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call
from csroute.custify.client.envelopes import Record

CATEGORIES = (
    "people",
    "company",
    "task",
    "note",
    "segment",
    "playbook",
    "lifecycle",
    "health_score",
    "survey",
    "calculated_metric",
    "time_tracker",
    "meeting",
)
MAX_PER_PAGE = 100
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")


def check_tag(data: Record) -> None:
    validate.required(data, "name", "category")
    validate.choice(data, "category", CATEGORIES)


def check_id(id: str) -> None:
    if not _OBJECT_ID.fullmatch(id):
        raise validate.invalid("id", f"a tag id is 24 hex digits (got {id!r})")


class Tags(Group):
    async def create(self, body: Body = None, /, **fields: Any) -> Record:
        """``POST /tag`` with ``name``, ``category`` and an optional ``description``."""
        data = merged(body, fields)
        check_tag(data)
        return await self._record(Call("POST", "/tag", body=data))

    async def update(self, id: str, body: Body = None, /, **fields: Any) -> Record:
        data = merged(body, fields)
        check_id(id)
        check_tag(data)
        return await self._record(Call("POST", f"/tag/{id}", body=data))

    async def upsert(self, body: Body = None, /, *, id: str | None = None, **fields: Any) -> Record:
        """Update when the tag's id is known, otherwise create."""
        return await (self.update(id, body, **fields) if id else self.create(body, **fields))

    async def delete(self, id: str) -> Record:
        """Deletes the tag and removes it from everything tagged with it."""
        check_id(id)
        return await self._record(Call("DELETE", f"/tag/{id}"))

    async def get(self, id: str) -> Record:
        check_id(id)
        return await self._one(Call("GET", f"/tag/{id}"), "tags", f"tag {id}")

    def list(self, *, per_page: int | None = None, **params: Any) -> AsyncIterator[Record]:
        """Every tag; ``category`` narrows it (Custify's default is ``all``)."""
        return self._list("/tag", "tags", MAX_PER_PAGE, per_page, params)

    async def entity(
        self,
        ids: Sequence[str],
        tag: str,
        category: str,
        *,
        type: Literal["add", "remove"] = "add",
    ) -> Record:
        """``PATCH /tag/entity``: add or remove one tag on entities of one category."""
        data = {"ids": list(ids), "type": type, "category": category, "tag": tag}
        validate.required(data, "ids", "tag", "category")
        validate.choice(data, "type", ("add", "remove"))
        validate.choice(data, "category", CATEGORIES)
        return await self._record(Call("PATCH", "/tag/entity", body=data))
