"""People: the upsert with Custify's ``id`` → ``user_id`` → ``email`` lookup and its quirks, company
links, reads, listing and the GDPR deletes (docs/custify-api.md, "People")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import filters, rules
from csroute.custify.sandbox.companies import (
    apply_fields,
    attribute_changes,
    parse_links,
    resolve_link,
)
from csroute.custify.sandbox.listing import page_of
from csroute.custify.sandbox.responses import (
    ApiError,
    Record,
    deleted_response,
    json_object,
    json_response,
)
from csroute.custify.sandbox.state import State, is_object_id, state_of

FIELDS: dict[str, Callable[[Record, str], Any]] = {
    "name": rules.string_field,
    "phone": rules.string_field,
    "signed_up_at": rules.date_field,
    "session_count": rules.int32_field,
    "unsubscribed_from_emails": rules.bool_field,
    "unsubscribed_from_calls": rules.bool_field,
}
UNSETTABLE = frozenset(FIELDS)
MAX_PER_PAGE = 200


def find_person(
    state: State, internal_id: str | None, user_id: str | None, email: str | None
) -> Record | None:
    """The record an upsert updates, or None when it must create one.

    An email match is used only when the request has no ``user_id`` or the matched record has none
    yet; a record whose ``user_id`` differs is left alone, so the upsert creates a new one.
    """
    if internal_id is not None and internal_id in state.people:
        return state.people[internal_id]
    if user_id is not None and user_id in state.people_by_user_id:
        return state.people[state.people_by_user_id[user_id]]
    if email is not None:
        for person_id in state.person_by_email(email):
            person = state.people[person_id]
            if user_id is None or person["user_id"] is None:
                return person
    return None


def new_person(state: State, user_id: str | None, email: str | None) -> Record:
    stamp = state.stamp()
    person: Record = {
        "id": state.ids.next(),
        "user_id": user_id,
        "email": email,
        **dict.fromkeys(FIELDS),
        "unsubscribed_from_emails": False,
        "unsubscribed_from_calls": False,
        "custom_attributes": {},
        "companies": [],
        "tags": [],
        "created_at": stamp,
        "updated_at": stamp,
    }
    state.add_person(person)
    return person


def upsert_person(state: State, body: Record) -> Record:
    """``POST /people``: all checks run before the first write, so a 400 or 404 changes nothing."""
    internal_id = body.get("id") or None
    if internal_id is not None and not isinstance(internal_id, str):
        raise ApiError(400, "id must be a string")
    user_id = rules.identifier(body, "user_id")
    email = rules.string_field(body, "email")
    changes = {name: parse(body, name) for name, parse in FIELDS.items() if name in body}
    unset = rules.unset_paths(body, UNSETTABLE)
    links = parse_links(state, body.get("companies"), "companies")
    person = find_person(state, internal_id, user_id, email)
    if person is None and user_id is None and email is None:
        if internal_id is not None:
            raise ApiError(404, "People not found")
        raise ApiError(400, "user_id or email is required")
    taken = user_id is not None and user_id in state.people_by_user_id
    if person is not None and taken and user_id != person["user_id"]:
        raise ApiError(400, f"user_id {user_id} already belongs to another person")
    current = person["custom_attributes"] if person else {}
    attributes, locks = attribute_changes(state, "people", body, current, unset, currency=False)
    if person is None:
        person = new_person(state, user_id, email)
    elif (user_id or person["user_id"], email or person["email"]) != (
        person["user_id"],
        person["email"],
    ):
        state.reindex_person(person, user_id or person["user_id"], email or person["email"])
    state.locks("people").update(locks)
    person["custom_attributes"] = attributes
    apply_fields(person, changes, unset, state.stamp())
    for link in links:
        company_id = resolve_link(state, link)
        if company_id is None:
            continue
        if link.remove:
            state.unlink(person, company_id)
        else:
            state.link(person, company_id)
    return person


def _people_envelope(people: list[Record], total: int) -> Response:
    """Custify's array-wrapped listing ``[{"people": [...], "total": n}]``."""
    return json_response([{"people": people, "total": total}])


async def post_people(request: Request) -> Response:
    return json_response(upsert_person(state_of(request), await json_object(request)))


async def get_people(request: Request) -> Response:
    """``GET /people?user_id=`` or ``?email=``: an empty list, not a 404, when nothing matches."""
    state = state_of(request)
    params = request.query_params
    if params.get("user_id"):
        person_id = state.people_by_user_id.get(params["user_id"])
        matches = [state.people[person_id]] if person_id else []
    elif params.get("email"):
        matches = [state.people[person_id] for person_id in state.person_by_email(params["email"])]
    else:
        raise ApiError(404, "Param provided is missing or invalid")
    return _people_envelope(matches, len(matches)) if matches else json_response([])


async def get_person(request: Request) -> Response:
    person_id = request.path_params["id"]
    if not is_object_id(person_id):
        raise ApiError(404, "Param provided is missing or invalid")
    person = state_of(request).people.get(person_id)
    if person is None:
        raise ApiError(404, "People not found")
    return json_response(person)


async def list_people(request: Request) -> Response:
    params = request.query_params
    records = filters.applied(state_of(request).people.values(), params)
    page = page_of(records, params, max_items=MAX_PER_PAGE, default_sort="signed_up_at")
    return _people_envelope(page.items, page.total)


async def delete_people(request: Request) -> Response:
    """``DELETE /people?user_id=`` or ``?email=``: the people and their events (GDPR forget)."""
    state = state_of(request)
    params = request.query_params
    if params.get("user_id"):
        key = params["user_id"]
        person_id = state.people_by_user_id.get(key)
        targets = [person_id] if person_id else []
    elif params.get("email"):
        key = params["email"]
        targets = list(state.person_by_email(key))
    else:
        raise ApiError(400, "Bad request: user_id or email is required")
    if not targets:
        raise ApiError(404, f"User: {key} not found")
    for person_id in targets:
        state.remove_person(person_id)
    return deleted_response(f"users associated with {key}", len(targets))


async def delete_person(request: Request) -> Response:
    state = state_of(request)
    person_id = request.path_params["id"]
    if person_id not in state.people:
        raise ApiError(404, "People not found")
    state.remove_person(person_id)
    return deleted_response(f"users associated with {person_id}", 1)


ROUTES = [
    Route("/people", post_people, methods=["POST"]),
    Route("/people", get_people, methods=["GET"]),
    Route("/people", delete_people, methods=["DELETE"]),
    Route("/people/all", list_people, methods=["GET"]),
    Route("/people/{id}", get_person, methods=["GET"]),
    Route("/people/{id}", delete_person, methods=["DELETE"]),
]
