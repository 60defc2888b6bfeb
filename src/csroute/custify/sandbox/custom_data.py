"""Custom data objects (docs/custify-api.md, "Batch" and "Custom data objects"): written by
``custom-data`` batch jobs and by ``/custom_data/{companies|people}[/{entity}]``, read and deleted
on the same paths.

(``data_type``, ``data_id``) is the unique key per entity, so a write creates or updates. An array
body writes several objects for one entity, all or none. The entity is an internal id in the path,
else your ``company_id`` or ``user_id`` in the query (or, in a batch job, in the payload).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import rules
from csroute.custify.sandbox.responses import ApiError, Record, json_body, json_response
from csroute.custify.sandbox.state import State, state_of

Key = tuple[str, str, str, str]  # (model, entity internal id, data_type, data_id)

_MODELS = {
    "company": "companies",
    "companies": "companies",
    "customer": "people",
    "people": "people",
    "person": "people",
}


def entity_of(state: State, model: str, payload: Record) -> str:
    """The internal id of the owner, from ``entity`` or from your ``company_id``/``user_id``."""
    entity = payload.get("entity")
    records = state.companies if model == "companies" else state.people
    if isinstance(entity, str) and entity in records:
        return entity
    if entity is None and model == "companies" and payload.get("company_id") is not None:
        found = state.companies_by_company_id.get(str(payload["company_id"]))
    elif entity is None and model == "people" and payload.get("user_id") is not None:
        found = state.people_by_user_id.get(str(payload["user_id"]))
    else:
        found = None
    if found is None:
        raise ApiError(404, "Company not found" if model == "companies" else "People not found")
    return found


def _checked(state: State, payload: Record) -> tuple[Key, Record]:
    """The record's key and values, every rule checked; nothing is written."""
    model = _MODELS.get(str(payload.get("entityModel", "")).lower())
    if model is None:
        raise ApiError(400, "entityModel must be Company or Customer")
    data_type = rules.required(rules.string_field(payload, "data_type"), "data_type")
    data_id = rules.required(rules.identifier(payload, "data_id"), "data_id")
    data: Any = rules.required(payload.get("data"), "data")
    if not isinstance(data, dict) or any(isinstance(v, dict | list) for v in data.values()):
        raise ApiError(400, "data must be a flat object")
    entity = entity_of(state, model, payload)
    return (model, entity, data_type, data_id), {
        "data_type": data_type,
        "data_id": data_id,
        "data": data,
    }


def _store(state: State, key: Key, values: Record) -> Record:
    stamp = state.stamp()
    record = state.custom_data.get(key)
    if record is None:
        record = {"entity": key[1], "entityModel": key[0], "created_at": stamp}
        state.custom_data[key] = record
    record.update({**values, "updated_at": stamp})
    return record


def upsert_custom_data(state: State, payload: Record) -> Record:
    return _store(state, *_checked(state, payload))


def _shown(record: Record) -> Record:
    return {key: record[key] for key in ("data_type", "data_id", "data")}


def _entity(request: Request) -> tuple[str, str]:
    """(model, internal id) of the path's entity, or of the query's your-id."""
    model = request.path_params["entityModel"]
    if model not in ("companies", "people"):
        raise ApiError(400, "entityModel must be companies or people")
    params = request.query_params
    owner: Record = {"entity": request.path_params.get("entity")}
    if owner["entity"] is None:
        yours = "company_id" if model == "companies" else "user_id"
        owner[yours] = rules.required(params.get(yours) or None, yours)
    return model, entity_of(state_of(request), model, owner)


def _matching(request: Request, model: str, entity: str) -> list[Key]:
    params = request.query_params
    data_type, data_id = params.get("data_type"), params.get("data_id")
    return [
        key
        for key in state_of(request).custom_data
        if key[:2] == (model, entity) and data_type in (None, key[2]) and data_id in (None, key[3])
    ]


async def post_custom_data(request: Request) -> Response:
    state = state_of(request)
    model, entity = _entity(request)
    body = await json_body(request)
    items = body if isinstance(body, list) else [body]
    if not items or not all(isinstance(item, dict) for item in items):
        raise ApiError(400, "Bad request: the body must be an object or an array of objects")
    checked = [_checked(state, {**item, "entityModel": model, "entity": entity}) for item in items]
    stored = [_shown(_store(state, key, values)) for key, values in checked]
    return json_response(stored if isinstance(body, list) else stored[0])


async def get_custom_data(request: Request) -> Response:
    """An object keyed by data type: ``{"<data_type>": [{data_type, data_id, data}, ...]}``."""
    model, entity = _entity(request)
    grouped: dict[str, list[Record]] = {}
    for key in _matching(request, model, entity):
        grouped.setdefault(key[2], []).append(_shown(state_of(request).custom_data[key]))
    return json_response(grouped)


async def delete_custom_data(request: Request) -> Response:
    """By ``data_type`` and/or ``data_id``; the query form must name one of them, the path form
    without either deletes all of the entity's objects."""
    params = request.query_params
    if "entity" not in request.path_params and not (
        params.get("data_type") or params.get("data_id")
    ):
        raise ApiError(400, "data_type or data_id is required")
    model, entity = _entity(request)
    keys = _matching(request, model, entity)
    for key in keys:
        del state_of(request).custom_data[key]
    return json_response({"message": "Custom data deleted", "deleted": len(keys)})


ROUTES = [
    route
    for path in ("/custom_data/{entityModel}", "/custom_data/{entityModel}/{entity}")
    for route in (
        Route(path, post_custom_data, methods=["POST"]),
        Route(path, get_custom_data, methods=["GET"]),
        Route(path, delete_custom_data, methods=["DELETE"]),
    )
]
