"""Events: ``POST /event`` answers 202 with an empty body, 404 ``People not found`` for an unknown
person, accepts company-only events, and ignores a repeated ``deduplication_id``
(docs/custify-api.md, "Events"). A duplicate is answered exactly like a new event, since the spec
only says it is ignored."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify import api
from csroute.custify.sandbox import rules
from csroute.custify.sandbox.responses import ApiError, Record, json_object
from csroute.custify.sandbox.state import State, now_iso, state_of


def _owner(
    state: State, user_id: str | None, email: str | None, company_id: str | None
) -> tuple[str | None, str | None]:
    """(person internal id, company internal id) for an event; user_id wins over email."""
    company = state.companies_by_company_id.get(company_id) if company_id else None
    if user_id is None and email is None:
        if company_id is None:
            raise ApiError(400, "user_id, email or company_id is required")
        if company is None:
            raise ApiError(404, "Company not found")
        return None, company
    person_id = state.people_by_user_id.get(user_id) if user_id else None
    if person_id is None and email is not None:
        same = state.person_by_email(email)
        person_id = same[0] if same else None
    if person_id is None:
        raise ApiError(404, "People not found")
    return person_id, company


def insert_event(state: State, body: Record) -> bool:
    """Store one event; False when its ``deduplication_id`` was seen before and it was ignored."""
    name = rules.string_field(body, "name", api.MAX_EVENT_STRING_LENGTH)
    if name is None:
        raise ApiError(400, "name is required")
    created_at = rules.date_field(body, "created_at")
    if created_at is None:
        raise ApiError(400, "created_at is required")
    user_id = rules.identifier(body, "user_id")
    email = rules.string_field(body, "email", api.MAX_STRING_LENGTH)
    company_id = rules.identifier(body, "company_id")
    dedup = rules.string_field(body, "deduplication_id", api.MAX_EVENT_STRING_LENGTH)
    person_id, company = _owner(state, user_id, email, company_id)
    scope = f"event:{name}"
    metadata, locks = rules.metadata_values(body.get("metadata") or {}, state.locks(scope))
    if dedup is not None and dedup in state.deduplication_ids:
        state.counters["events_deduplicated"] += 1
        return False
    if dedup is not None:
        state.deduplication_ids.add(dedup)
    state.locks(scope).update(locks)
    event = {
        "id": state.ids.next(),
        "name": name,
        "created_at": created_at,
        "people": person_id,
        "user_id": user_id,
        "email": email,
        "company": company,
        "company_id": company_id,
        "deduplication_id": dedup,
        "metadata": metadata,
        "received_at": now_iso(),
    }
    owner = person_id if person_id is not None else company
    assert owner is not None
    state.add_event(event, owner)
    return True


async def post_event(request: Request) -> Response:
    insert_event(state_of(request), await json_object(request))
    return Response(status_code=202)


ROUTES = [Route("/event", post_event, methods=["POST"])]
