"""Time tracks (docs/custify-api.md, "Time tracks"), served on both ``/time-track`` (the spec's
path) and ``/time_track`` (its code samples'), since which one is live is unknown.

Creating and updating need the ``user`` query parameter (the Custify user logging the time; users
are not modelled, so any non-empty value is kept as sent). The spec does not say how ``PUT`` names
the record: the sandbox takes its internal id from the ``id`` query parameter or the body, and
changes only the fields sent. The body's ``startedDate`` is listed as ``startDate``.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import entities, rules
from csroute.custify.sandbox.listing import page_of
from csroute.custify.sandbox.responses import (
    ApiError,
    Record,
    deleted_response,
    json_object,
    json_response,
)
from csroute.custify.sandbox.state import State, state_of

PATHS = ("/time-track", "/time_track")
MAX_PER_PAGE = 50


def _user(params: QueryParams) -> str:
    return rules.required(params.get("user") or None, "user")


def _owners(state: State, body: Record, params: QueryParams) -> Record:
    """``company``/``people`` from the body's internal ids, else from the query's your-ids."""
    owners: Record = {}
    company = entities.company_id(
        state, internal=body.get("company"), company_id=params.get("company_id")
    )
    person = entities.person_id(
        state, internal=body.get("people"), user_id=params.get("user_id"), email=params.get("email")
    )
    if company is not None:
        owners["company"] = [company]
    if person is not None:
        owners["people"] = [person]
    return owners


def _fields(state: State, body: Record, params: QueryParams) -> Record:
    fields: Record = {}
    if "name" in body:
        fields["name"] = rules.required(rules.string_field(body, "name"), "name")
    if "duration" in body:
        duration = rules.int_range_field(body, "duration", 0, rules.INT32_MAX)
        fields["duration"] = rules.required(duration, "duration")
    if "startedDate" in body:
        started = rules.date_field(body, "startedDate")
        fields["startDate"] = rules.required(started, "startedDate")
    if "tags" in body:
        fields["tags"] = rules.id_list(body, "tags") or []
    return fields | _owners(state, body, params)


async def create(request: Request) -> Response:
    state, params = state_of(request), request.query_params
    user = _user(params)
    body = await json_object(request)
    for name in ("name", "duration", "startedDate"):
        rules.required(body.get(name), name)
    fields = _fields(state, body, params)
    stamp = state.stamp()
    track: Record = {
        "id": state.ids.next(),
        "company": [],
        "people": [],
        "tags": [],
        **fields,
        "user": user,
        "created_at": stamp,
        "updated_at": stamp,
    }
    state.time_tracks[track["id"]] = track
    return json_response(track)


def _track(state: State, track_id: Any) -> Record:
    if not track_id:
        raise ApiError(400, "id is required")
    track = state.time_tracks.get(track_id) if isinstance(track_id, str) else None
    if track is None:
        raise ApiError(404, "Time track not found")
    return track


async def update(request: Request) -> Response:
    state, params = state_of(request), request.query_params
    user = _user(params)
    body = await json_object(request)
    track = _track(state, params.get("id") or body.get("id"))
    track.update(_fields(state, body, params))
    track["user"] = user
    track["updated_at"] = state.stamp()
    return json_response(track)


async def delete(request: Request) -> Response:
    state = state_of(request)
    track = _track(state, request.query_params.get("id"))
    del state.time_tracks[track["id"]]
    return deleted_response(f"time tracks with id {track['id']}", 1)


async def listing(request: Request) -> Response:
    """Narrowed by owner, tag, user and a ``start_date``..``end_date`` range of days."""
    state, params = state_of(request), request.query_params
    records: list[Record] = list(state.time_tracks.values())
    try:
        owners = _owners(
            state, {"company": params.get("company"), "people": params.get("people")}, params
        )
    except ApiError:
        records = []
    else:
        for key, value in owners.items():
            records = [r for r in records if value[0] in r[key]]
    tags = [tag for tag in (params.get("tags") or "").split(",") if tag]
    if tags:
        records = [r for r in records if set(tags) & set(r["tags"])]
    if params.get("user"):
        records = [r for r in records if r["user"] == params["user"]]
    start, end = rules.date_field(params, "start_date"), rules.date_field(params, "end_date")
    if start is not None:
        records = [r for r in records if r["startDate"][:10] >= start[:10]]
    if end is not None:
        records = [r for r in records if r["startDate"][:10] <= end[:10]]
    page = page_of(records, params, max_items=MAX_PER_PAGE, default_sort="startDate")
    return json_response({"time_track": page.items, "total": page.total})


ROUTES = [
    route
    for path in PATHS
    for route in (
        Route(path, create, methods=["POST"]),
        Route(path, update, methods=["PUT"]),
        Route(path, delete, methods=["DELETE"]),
        Route(path, listing, methods=["GET"]),
    )
]
