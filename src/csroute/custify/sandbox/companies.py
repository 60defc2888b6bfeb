"""Companies: upsert by ``id`` then ``company_id``, an immutable ``company_id``, parent links, and
the ``{"companies": [...], "total": n}`` envelope of every company read (docs/custify-api.md,
"Companies").

Links from people (``companies``) and from child companies (``parent_companies``) share one parser:
an unknown ``company_id`` is created as a bare company when linked, so that a person can be put in a
company before the company's own upsert arrives (the order RudderStack's group call cannot promise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify import api
from csroute.custify.sandbox import filters, rules
from csroute.custify.sandbox.listing import page_of
from csroute.custify.sandbox.responses import (
    ApiError,
    Record,
    deleted_response,
    json_object,
    json_response,
)
from csroute.custify.sandbox.state import State, state_of

FIELDS: dict[str, Callable[[Record, str], Any]] = {
    "name": rules.string_field,
    "signed_up_at": rules.date_field,
    "size": rules.int32_field,
    "website": rules.string_field,
    "industry": rules.string_field,
    "plan": rules.string_field,
    "monthly_revenue": rules.int32_field,
    "churned": rules.bool_field,
    "owners_csm": rules.string_field,
    "owners_account": rules.string_field,
}
UNSETTABLE = frozenset(
    {"name", "plan", "signed_up_at", "owners_csm", "owners_account"}
    | {"size", "website", "industry", "monthly_revenue"}
)
MAX_PER_PAGE = 200


def attribute_changes(
    state: State, scope: str, body: Record, current: Record, unset: list[str], *, currency: bool
) -> tuple[Record, dict[str, str]]:
    """The entity's custom attributes after this write, and the type locks it creates."""
    sent = body.get("custom_attributes")
    if sent is None:
        sent = {}
    if not isinstance(sent, dict):
        raise ApiError(400, "custom_attributes must be an object")
    values, locks = rules.typed_values(
        sent, state.locks(scope), "custom_attributes", allow_currency=currency
    )
    merged = {**current, **values}
    for path in unset:
        if path.startswith("custom_attributes."):
            merged.pop(path.split(".", 1)[1], None)
    if len(merged) > api.MAX_CUSTOM_FIELDS:
        raise ApiError(400, f"custom_attributes: at most {api.MAX_CUSTOM_FIELDS} fields per entity")
    return merged, locks


def apply_fields(record: Record, changes: Record, unset: list[str], stamp: str) -> None:
    record.update(changes)
    for path in unset:
        if not path.startswith("custom_attributes."):
            record[path] = None
    record["updated_at"] = stamp


@dataclass(frozen=True)
class Link:
    internal_id: str | None
    company_id: str | None
    remove: bool


def parse_links(state: State, value: Any, name: str) -> list[Link]:
    """Validate a ``companies``/``parent_companies`` array before anything is written."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, f"{name} must be an array")
    links = []
    for item in value:
        if not isinstance(item, dict):
            raise ApiError(400, f"{name}: each item must be an object")
        remove = bool(rules.bool_field(item, "remove"))
        if item.get("id"):
            if not isinstance(item["id"], str) or item["id"] not in state.companies:
                raise ApiError(404, "Company not found")
            links.append(Link(item["id"], None, remove))
        else:
            company_id = rules.identifier(item, "company_id")
            if company_id is None:
                raise ApiError(400, f"{name}: each item needs company_id or id")
            links.append(Link(None, company_id, remove))
    return links


def resolve_link(state: State, link: Link) -> str | None:
    """The linked company's internal id, creating a bare company for an unknown ``company_id``."""
    if link.internal_id is not None:
        return link.internal_id
    assert link.company_id is not None
    internal_id = state.companies_by_company_id.get(link.company_id)
    if internal_id is None and not link.remove:
        internal_id = new_company(state, link.company_id)["id"]
    return internal_id


def new_company(state: State, company_id: str) -> Record:
    stamp = state.stamp()
    company: Record = {
        "id": state.ids.next(),
        "company_id": company_id,
        **dict.fromkeys(FIELDS),
        "churned": False,
        "parent_companies": [],
        "custom_attributes": {},
        "people_count": 0,
        "tags": [],
        "created_at": stamp,
        "updated_at": stamp,
    }
    state.add_company(company)
    return company


def upsert_company(state: State, body: Record) -> Record:
    """``POST /company``: every check runs before the first write, so a 400 changes nothing."""
    internal_id = body.get("id") or None
    company_id = rules.identifier(body, "company_id")
    changes = {name: parse(body, name) for name, parse in FIELDS.items() if name in body}
    unset = rules.unset_paths(body, UNSETTABLE)
    parents = parse_links(state, body.get("parent_companies"), "parent_companies")
    company = None
    if internal_id is not None:
        company = state.companies.get(internal_id)
        if company is None:
            raise ApiError(404, "Company not found")
        if company_id is not None and company_id != company["company_id"]:
            raise ApiError(400, "company_id cannot be changed")
    elif company_id is not None:
        existing = state.companies_by_company_id.get(company_id)
        company = state.companies[existing] if existing else None
    else:
        raise ApiError(400, "company_id is required")
    current = company["custom_attributes"] if company else {}
    attributes, locks = attribute_changes(state, "company", body, current, unset, currency=True)
    if company is None:
        assert company_id is not None
        company = new_company(state, company_id)
    state.locks("company").update(locks)
    company["custom_attributes"] = attributes
    apply_fields(company, changes, unset, state.stamp())
    for link in parents:
        parent_id = resolve_link(state, link)
        if parent_id is None or parent_id == company["id"]:
            continue
        if link.remove:
            state.unlink_parent(company, parent_id)
        else:
            state.link_parent(company, parent_id)
    return company


def companies_envelope(companies: list[Record], total: int | None = None) -> Response:
    return json_response(
        {"companies": companies, "total": len(companies) if total is None else total}
    )


async def post_company(request: Request) -> Response:
    return json_response(upsert_company(state_of(request), await json_object(request)))


async def get_company(request: Request) -> Response:
    """``GET /company?company_id=``: an empty list, not a 404, when nothing matches."""
    state = state_of(request)
    company_id = request.query_params.get("company_id")
    if not company_id:
        raise ApiError(404, "Param provided is missing or invalid")
    internal_id = state.companies_by_company_id.get(company_id)
    return companies_envelope([state.companies[internal_id]] if internal_id else [])


async def get_company_by_id(request: Request) -> Response:
    company = state_of(request).companies.get(request.path_params["id"])
    return companies_envelope([company] if company else [])


async def list_companies(request: Request) -> Response:
    params = request.query_params
    records = filters.applied(state_of(request).companies.values(), params)
    page = page_of(records, params, max_items=MAX_PER_PAGE, default_sort="signed_up_at")
    return companies_envelope(page.items, page.total)


async def company_people(request: Request) -> Response:
    """``GET /company/people/{id}``: the company's people, ``{"people": [...], "total": n}``
    (the spec gives no body; this is the listing shape without the people array wrapper), 404
    for a missing or invalid id."""
    state = state_of(request)
    internal_id = request.path_params["id"]
    if internal_id not in state.companies:
        raise ApiError(404, "Param provided is missing or invalid")
    members = [state.people[person_id] for person_id in state.company_people.get(internal_id, {})]
    page = page_of(members, request.query_params, max_items=MAX_PER_PAGE, default_sort=None)
    return json_response({"people": page.items, "total": page.total})


async def delete_company(request: Request) -> Response:
    state = state_of(request)
    company_id = request.query_params.get("company_id")
    if not company_id:
        raise ApiError(400, "Bad request: company_id is required")
    internal_id = state.companies_by_company_id.get(company_id)
    if internal_id is None:
        raise ApiError(404, f"Company: {company_id} not found")
    state.remove_company(internal_id)
    return deleted_response(f"companies associated with {company_id}", 1)


async def delete_company_by_id(request: Request) -> Response:
    state = state_of(request)
    internal_id = request.path_params["id"]
    if internal_id not in state.companies:
        raise ApiError(404, "Company not found")
    state.remove_company(internal_id)
    return deleted_response(f"companies associated with {internal_id}", 1)


ROUTES = [
    Route("/company", post_company, methods=["POST"]),
    Route("/company", get_company, methods=["GET"]),
    Route("/company", delete_company, methods=["DELETE"]),
    Route("/company/all", list_companies, methods=["GET"]),
    Route("/company/people/{id}", company_people, methods=["GET"]),
    Route("/company/{id}", get_company_by_id, methods=["GET"]),
    Route("/company/{id}", delete_company_by_id, methods=["DELETE"]),
]
