"""Custom data objects (docs/custify-api.md, "Custom data objects"), keyed by (``data_type``,
``data_id``) per entity. The owner is an internal id (``entity``) or your
``company_id``/``user_id``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.core import Call, query
from csroute.custify.client.envelopes import Record

Model = Literal["companies", "people"]


def _owner(
    model: str, entity: str | None, company_id: str | None, user_id: str | None
) -> tuple[str, dict[str, str]]:
    validate.choice({"entity_model": model}, "entity_model", ("companies", "people"))
    name, value = validate.exactly_one(entity=entity, company_id=company_id, user_id=user_id)
    if name == "entity":
        return f"/custom_data/{model}/{value}", {}
    return f"/custom_data/{model}", {name: value}


class CustomData(Group):
    async def upsert(
        self,
        entity_model: Model,
        body: Body = None,
        /,
        *,
        entity: str | None = None,
        company_id: str | None = None,
        user_id: str | None = None,
        **fields: Any,
    ) -> Record:
        """Create or update one object: ``{data_type, data_id, data}`` with a flat ``data``."""
        path, params = _owner(entity_model, entity, company_id, user_id)
        data = merged(body, fields)
        validate.required(data, "data_type", "data_id")
        if not isinstance(data.get("data"), Mapping):
            raise validate.invalid("data", "is required: an object of the object type's fields")
        for key, value in data["data"].items():
            if isinstance(value, Mapping | list | tuple):
                raise validate.invalid(f"data.{key}", "must be flat (no objects or arrays)")
        return await self._record(Call("POST", path, query(**params), data))

    async def get(
        self,
        entity_model: Model,
        *,
        entity: str | None = None,
        company_id: str | None = None,
        user_id: str | None = None,
        data_type: str | None = None,
        data_id: str | None = None,
    ) -> Record:
        """The entity's objects keyed by data type: ``{"<data_type>": [{...}], ...}``."""
        path, params = _owner(entity_model, entity, company_id, user_id)
        params = query(**params, data_type=data_type, data_id=data_id)
        return await self._record(Call("GET", path, params))

    async def delete(
        self,
        entity_model: Model,
        *,
        entity: str | None = None,
        company_id: str | None = None,
        user_id: str | None = None,
        data_type: str | None = None,
        data_id: str | None = None,
    ) -> Record:
        path, params = _owner(entity_model, entity, company_id, user_id)
        if not entity:
            validate.any_of({"data_type": data_type, "data_id": data_id}, "data_type", "data_id")
        params = query(**params, data_type=data_type, data_id=data_id)
        return await self._record(Call("DELETE", path, params))
