"""Notes on people and companies (docs/custify-api.md, "Notes"): create, update by internal id, list
all or one entity's, with ``sort``/``order``, ``searchTerm`` and the ``[{field, values}]`` filters.

Notes written through the API are created by ``api`` (the ``createdByEntity`` filter value). An
update changes only the fields it sends.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import entities, field_filters, rules, webhooks
from csroute.custify.sandbox.listing import page_of
from csroute.custify.sandbox.responses import ApiError, Record, json_object, json_response
from csroute.custify.sandbox.state import State, state_of


def _mentioned(record: Record) -> Any:
    return (record.get("metadata") or {}).get("mentionedUsers")


FILTERS: dict[str, field_filters.Getter] = {
    "createdByEntity": lambda record: record["createdByEntity"],
    "tags": lambda record: record["tags"],
    "mentioning": _mentioned,
}


def _fields(state: State, body: Record) -> Record:
    fields: Record = {}
    if "text" in body:
        fields["text"] = rules.string_field(body, "text", None)
    if "subject" in body:
        fields["subject"] = rules.string_field(body, "subject")
    for flag in ("sticky", "showInPortal"):
        if flag in body:
            fields[flag] = bool(rules.bool_field(body, flag))
    for ids in ("tags", "files"):
        if ids in body:
            fields[ids] = rules.id_list(body, ids) or []
    if "metadata" in body:
        metadata = body["metadata"]
        if not isinstance(metadata, dict):
            raise ApiError(400, "metadata must be an object")
        mentioned = rules.id_list(metadata, "mentionedUsers")
        fields["metadata"] = {**metadata, "mentionedUsers": mentioned or []}
    if "entityModel" in body or "entity" in body:
        model = body.get("entityModel")
        if model not in entities.NOTE_MODELS:
            raise ApiError(400, "entityModel must be Customer or Company")
        collection = entities.NOTE_MODELS[model]
        entity = entities.entity(state, collection, body.get("entity"))
        fields |= {"entity": entity, "entityModel": model}
    return fields


def _owners(state: State, note: Record) -> None:
    """The derived fields Custify lists with a note: its entity's name, company and people."""
    entity = note["entity"]
    note["entityName"] = entities.entity_name(state, entity)
    if note["entityModel"] == "Company":
        note["company"], note["people"] = [entity], []
    else:
        person = state.people.get(entity)
        note["company"], note["people"] = list(person["companies"] if person else []), [entity]


def create_note(state: State, body: Record) -> Record:
    fields = _fields(state, body)
    rules.required(fields.get("text"), "text")
    if "entity" not in fields:
        raise ApiError(400, "entity and entityModel are required")
    stamp = state.stamp()
    note: Record = {
        "id": state.ids.next(),
        "text": None,
        "subject": None,
        "tags": [],
        "files": [],
        "sticky": False,
        "status": "active",
        "showInPortal": False,
        "metadata": {"mentionedUsers": []},
        "createdBy": None,
        "createdByType": "api",
        "createdByEntity": "api",
        "externalProvider": None,
        "externalId": None,
        **fields,
        "created_at": stamp,
        "updated_at": stamp,
    }
    _owners(state, note)
    state.notes[note["id"]] = note
    return note


async def post_note(request: Request) -> Response:
    note = create_note(state_of(request), await json_object(request))
    webhooks.emit(request, "note.created", note)
    return json_response(note)


async def update_note(request: Request) -> Response:
    state = state_of(request)
    note = state.notes.get(request.path_params["id"])
    if note is None:
        raise ApiError(404, "Note not found")
    fields = _fields(state, await json_object(request))
    if "text" in fields:
        rules.required(fields["text"], "text")
    note.update(fields)
    _owners(state, note)
    note["updated_at"] = state.stamp()
    webhooks.emit(request, "note.updated", note)
    return json_response(note)


def _listing(request: Request, records: Any, default_sort: str | None) -> Response:
    params = request.query_params
    records = field_filters.applied(records, params, FILTERS)
    records = field_filters.search(records, params.get("searchTerm"), ("text", "externalId"))
    page = page_of(records, params, max_items=None, default_sort=default_sort, styles=("sort",))
    return json_response({"notes": page.items, "total": page.total})


async def list_notes(request: Request) -> Response:
    return _listing(request, state_of(request).notes.values(), "created_at")


async def entity_notes(request: Request) -> Response:
    """One entity's notes: sticky ones first, then the most recent (an unknown entity has none)."""
    entity = request.path_params["entityId"]
    notes = [note for note in state_of(request).notes.values() if note["entity"] == entity]
    notes.sort(key=lambda note: (note["sticky"], note["created_at"]), reverse=True)
    return _listing(request, notes, None)


ROUTES = [
    Route("/note", list_notes, methods=["GET"]),
    Route("/note", post_note, methods=["POST"]),
    Route("/note/", list_notes, methods=["GET"]),  # the spec's /note/{id} with no id
    Route("/note/", post_note, methods=["POST"]),
    Route("/note/{entityId}", entity_notes, methods=["GET"]),
    Route("/note/{id}", update_note, methods=["POST"]),
]
