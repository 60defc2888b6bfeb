"""Tickets, keyed by your ``externalId`` (docs/custify-api.md, "Tickets"): create, patch, delete,
reply, and the listings (all, or one company's or person's), with ``sort``/``order`` and ``[{field,
values}]`` filters.

A ticket names its company by your ``company_id`` and its person by ``user_id`` or email; the
listing object carries the internal ids and names. The spec leaves the create, update and reply
bodies undocumented; the sandbox answers all three with the ticket's listing object. Creating a
ticket whose ``externalId`` exists is 400 (Create and Update are separate actions). ``openedAt``
defaults to the time of creation and ``lastModifiedAt`` moves with every change unless sent.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import entities, field_filters, rules
from csroute.custify.sandbox.listing import page_of
from csroute.custify.sandbox.responses import (
    ApiError,
    Record,
    deleted_response,
    json_object,
    json_response,
)
from csroute.custify.sandbox.state import State, state_of

REPLY_TYPES = ("note", "incoming", "outgoing")
MAX_PER_PAGE = 200
STRINGS = ("title", "priority", "ticketStatus", "assignedToName")


def _companies_field(state: State, name: str) -> Any:
    return lambda ticket: [
        state.companies[company].get(name)
        for company in ticket["company"]
        if company in state.companies
    ]


def _filters(state: State) -> dict[str, field_filters.Getter]:
    return {
        **field_filters.by_key("ticketStatus", "priority", "assignedToName", "provider", "tags"),
        "csm": _companies_field(state, "owners_csm"),
        "segments": _companies_field(state, "buckets"),
    }


def _reply(value: Any, where: str) -> Record:
    if not isinstance(value, dict):
        raise ApiError(400, f"{where} must be an object")
    body = rules.required(rules.string_field(value, "body", None), f"{where}.body")
    return {
        "body": body,
        "from": rules.string_field(value, "from"),
        "submittedAt": rules.date_field(value, "submittedAt"),
        "type": rules.choice_field(value, "type", REPLY_TYPES),
    }


def _fields(state: State, body: Record) -> Record:
    """The ticket fields a request sets, checked; owners are resolved to internal ids."""
    fields: Record = {}
    for name in STRINGS:
        if name in body:
            fields[name] = rules.string_field(body, name)
    if "description" in body:
        fields["description"] = rules.string_field(body, "description", None)
    for name in ("openedAt", "lastModifiedAt"):
        if name in body:
            fields[name] = rules.date_field(body, name)
    if "company" in body:
        company = entities.company_id(state, company_id=body["company"])
        fields["company"] = [company] if company else []
    if "people" in body:
        text = rules.identifier(body, "people")
        by_email = text is not None and "@" in text and text not in state.people_by_user_id
        person = entities.person_id(
            state, email=text if by_email else None, user_id=None if by_email else text
        )
        fields["people"] = [{"id": person}] if person else []
    if "replies" in body:
        replies = body["replies"]
        if not isinstance(replies, list):
            raise ApiError(400, "replies must be an array")
        fields["replies"] = [_reply(reply, f"replies[{n}]") for n, reply in enumerate(replies)]
    return fields


def _names(state: State, ticket: Record) -> None:
    ticket["companyNames"] = [entities.entity_name(state, c) for c in ticket["company"]]
    ticket["peopleNames"] = [entities.entity_name(state, p["id"]) for p in ticket["people"]]


def _ticket(state: State, external_id: str) -> Record:
    internal = state.tickets_by_external_id.get(external_id)
    if internal is None:
        raise ApiError(404, "Ticket not found")
    return state.tickets[internal]


async def post_ticket(request: Request) -> Response:
    state = state_of(request)
    body = await json_object(request)
    external_id = rules.required(rules.identifier(body, "externalId"), "externalId")
    fields = _fields(state, body)
    if external_id in state.tickets_by_external_id:
        raise ApiError(400, f"A ticket with externalId {external_id} already exists")
    stamp = state.stamp()
    ticket: Record = {
        "id": state.ids.next(),
        "externalId": external_id,
        **dict.fromkeys(STRINGS),
        "description": None,
        "assignedTo": None,
        "company": [],
        "people": [],
        "provider": "api",
        "rating": None,
        "ratingAt": None,
        "status": "active",
        "tags": [],
        "replies": [],
        **fields,
        "created_at": stamp,
        "updated_at": stamp,
    }
    ticket["openedAt"] = ticket.get("openedAt") or stamp
    ticket["lastModifiedAt"] = ticket.get("lastModifiedAt") or ticket["openedAt"]
    _names(state, ticket)
    state.tickets[ticket["id"]] = ticket
    state.tickets_by_external_id[external_id] = ticket["id"]
    return json_response(ticket)


def _touch(state: State, ticket: Record, fields: Record) -> Response:
    stamp = state.stamp()
    ticket.update(fields)
    ticket["lastModifiedAt"] = fields.get("lastModifiedAt") or stamp
    ticket["updated_at"] = stamp
    _names(state, ticket)
    return json_response(ticket)


async def put_ticket(request: Request) -> Response:
    """Patch semantics: only the fields sent change; ``replies`` replaces the whole list."""
    state = state_of(request)
    ticket = _ticket(state, request.path_params["externalId"])
    body = await json_object(request)
    if "externalId" in body and rules.identifier(body, "externalId") != ticket["externalId"]:
        raise ApiError(400, "externalId cannot be changed")
    return _touch(state, ticket, _fields(state, body))


async def post_reply(request: Request) -> Response:
    state = state_of(request)
    ticket = _ticket(state, request.path_params["externalId"])
    reply = _reply(await json_object(request), "reply")
    reply["submittedAt"] = reply["submittedAt"] or state.stamp()
    return _touch(state, ticket, {"replies": [*ticket["replies"], reply]})


async def delete_ticket(request: Request) -> Response:
    state = state_of(request)
    ticket = _ticket(state, request.path_params["externalId"])
    del state.tickets[ticket["id"]]
    del state.tickets_by_external_id[ticket["externalId"]]
    return deleted_response(f"tickets with externalId {ticket['externalId']}", 1)


def _listing(request: Request, records: Any) -> Response:
    state, params = state_of(request), request.query_params
    if params.get("externalId"):
        records = [r for r in records if r["externalId"] == params["externalId"]]
    records = field_filters.applied(records, params, _filters(state))
    records = field_filters.search(
        records, params.get("searchTerm"), ("title", "description", "externalId")
    )
    page = page_of(
        records, params, max_items=MAX_PER_PAGE, default_sort="openedAt", styles=("sort",)
    )
    return json_response({"tickets": page.items, "total": page.total})


async def list_tickets(request: Request) -> Response:
    return _listing(request, state_of(request).tickets.values())


async def entity_tickets(request: Request) -> Response:
    """A company's or a person's tickets; which one the id names is detected, as Custify does."""
    state = state_of(request)
    entity = request.path_params["entity"]
    if entity in state.companies:
        records = [t for t in state.tickets.values() if entity in t["company"]]
    elif entity in state.people:
        records = [t for t in state.tickets.values() if {"id": entity} in t["people"]]
    else:
        raise ApiError(404, "Entity not found")
    return _listing(request, records)


ROUTES = [
    Route("/ticket", list_tickets, methods=["GET"]),
    Route("/ticket", post_ticket, methods=["POST"]),
    Route("/ticket/{entity}", entity_tickets, methods=["GET"]),
    Route("/ticket/{externalId}", put_ticket, methods=["PUT"]),
    Route("/ticket/{externalId}", delete_ticket, methods=["DELETE"]),
    Route("/ticket/{externalId}/reply", post_reply, methods=["POST"]),
]
