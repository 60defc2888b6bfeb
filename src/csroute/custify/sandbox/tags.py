"""Tags: CRUD, adding and removing a tag on entities of one category, and the legacy
``POST /people/tag`` (docs/custify-api.md, "People" and "Tags").

A tagged record keeps the tag ids in its ``tags`` array. ``GET /tag/{id}`` never answers 404: an
unknown id gives an empty ``tags`` list and a malformed one 503, as Make's guidelines report.
A tag is put on entities of its own category only.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import rules
from csroute.custify.sandbox.listing import page_of
from csroute.custify.sandbox.responses import (
    ApiError,
    Record,
    deleted_response,
    json_object,
    json_response,
)
from csroute.custify.sandbox.state import COLLECTIONS, State, is_object_id, state_of

# Tag category -> the collection its tags go on (time tracks and meetings reference their own).
CATEGORIES = {
    "people": "people",
    "company": "companies",
    "task": "tasks",
    "note": "notes",
    "segment": "segments",
    "playbook": "playbooks",
    "lifecycle": "lifecycles",
    "health_score": "health_scores",
    "survey": "surveys",
    "calculated_metric": "calculated_metrics",
    "time_tracker": "time_tracks",
    "meeting": "meetings",
}
NOT_FOUND = {"people": "People not found", "companies": "Company not found"}


def _fields(body: Record) -> Record:
    fields: Record = {}
    for name in ("name", "description", "color", "color_text"):
        if name in body:
            fields[name] = rules.string_field(body, name)
    if "category" in body:
        fields["category"] = rules.choice_field(body, "category", tuple(CATEGORIES))
    return fields


def create_tag(state: State, body: Record) -> Record:
    fields = _fields(body)
    rules.required(fields.get("name"), "name")
    rules.required(fields.get("category"), "category")
    stamp = state.stamp()
    tag: Record = {
        "id": state.ids.next(),
        "name": None,
        "description": None,
        "category": None,
        "color": None,
        "color_text": None,
        "position": len(state.tags) + 1,
        "created_at": stamp,
        "updated_at": stamp,
    }
    tag.update(fields)
    state.tags[tag["id"]] = tag
    return tag


def _tag(state: State, tag_id: str) -> Record:
    tag = state.tags.get(tag_id)
    if tag is None:
        raise ApiError(404, "Tag not found")
    return tag


def tag_entities(state: State, body: Record, category: str | None) -> Response:
    """Add or remove one tag on entities of ``category``; nothing changes unless all are found."""
    ids = rules.required(rules.id_list(body, "ids"), "ids")
    action = rules.required(rules.choice_field(body, "type", ("add", "remove")), "type")
    if category is None:
        category = rules.required(
            rules.choice_field(body, "category", tuple(CATEGORIES)), "category"
        )
    tag_id = rules.required(rules.identifier(body, "tag"), "tag")
    tag = _tag(state, tag_id)
    if tag["category"] != category:
        raise ApiError(400, f"tag {tag_id} is a {tag['category']} tag, not a {category} tag")
    records = state.collection(CATEGORIES[category])
    missing = [entity_id for entity_id in ids if entity_id not in records]
    if missing:
        raise ApiError(
            404, NOT_FOUND.get(CATEGORIES[category], f"{category} {missing[0]} not found")
        )
    stamp = state.stamp()
    modified = 0
    for entity_id in ids:
        tags = records[entity_id].setdefault("tags", [])
        if action == "add" and tag_id not in tags:
            tags.append(tag_id)
        elif action == "remove" and tag_id in tags:
            tags.remove(tag_id)
        else:
            continue
        records[entity_id]["updated_at"] = stamp
        modified += 1
    verb = "added to" if action == "add" else "removed from"
    return json_response({"message": f"Tag {verb} {modified} entities", "modified": modified})


async def list_tags(request: Request) -> Response:
    params = request.query_params
    category = params.get("category") or "all"
    if category != "all" and category not in CATEGORIES:
        raise ApiError(400, f"category must be all or one of {', '.join(CATEGORIES)}")
    records: list[Record] = list(state_of(request).tags.values())
    if category != "all":
        records = [tag for tag in records if tag["category"] == category]
    page = page_of(
        records, params, max_items=None, default_sort="position", descending=False, styles=("sort",)
    )
    return json_response({"tags": page.items, "total": page.total})


async def get_tag(request: Request) -> Response:
    tag_id = request.path_params["id"]
    if not is_object_id(tag_id):
        raise ApiError(503, "Service Unavailable")
    tag = state_of(request).tags.get(tag_id)
    return json_response({"tags": [tag] if tag else [], "total": 1 if tag else 0})


async def post_tag(request: Request) -> Response:
    return json_response(create_tag(state_of(request), await json_object(request)))


async def update_tag(request: Request) -> Response:
    """``POST /tag/{id}``: the fields sent replace the tag's; the rest stay."""
    state = state_of(request)
    tag = _tag(state, request.path_params["id"])
    fields = _fields(await json_object(request))
    for name in ("name", "category"):
        if name in fields:
            rules.required(fields[name], name)
    tag.update(fields)
    tag["updated_at"] = state.stamp()
    return json_response(tag)


async def delete_tag(request: Request) -> Response:
    """Deleting a tag takes it off every record that carries it."""
    state = state_of(request)
    tag_id = request.path_params["id"]
    _tag(state, tag_id)
    del state.tags[tag_id]
    for name in ("people", "companies", *COLLECTIONS):
        for record in state.collection(name).values():
            tags = record.get("tags")
            if isinstance(tags, list) and tag_id in tags:
                tags.remove(tag_id)
    return deleted_response(f"tags with id {tag_id}", 1)


async def patch_tag_entity(request: Request) -> Response:
    return tag_entities(state_of(request), await json_object(request), None)


async def post_people_tag(request: Request) -> Response:
    return tag_entities(state_of(request), await json_object(request), "people")


ROUTES = [
    Route("/tag", list_tags, methods=["GET"]),
    Route("/tag", post_tag, methods=["POST"]),
    Route("/tag/", list_tags, methods=["GET"]),  # the spec's /tag/{id} with no id
    Route("/tag/", post_tag, methods=["POST"]),
    Route("/tag/entity", patch_tag_entity, methods=["PATCH"]),
    Route("/tag/{id}", get_tag, methods=["GET"]),
    Route("/tag/{id}", update_tag, methods=["POST"]),
    Route("/tag/{id}", delete_tag, methods=["DELETE"]),
    Route("/people/tag", post_people_tag, methods=["POST"]),
]
