"""Financial deals, invoices and subscriptions (docs/custify-api.md, "Deals, invoices,
subscriptions"), keyed by your ``externalId``: upsert by ``externalId`` or update by internal id,
list or get, delete.

A listing holds ``{"deals"|"invoices"|"subscriptions": [...], "total": n}`` except when exactly one
record matches, when the record itself is returned with no wrapper: Custify's envelope, kept as is.
Records list ``externalIds: {"custify": <your id>}`` instead of ``externalId``. The owner is a
company (internal id or ``company_id``) and/or a person (internal id or ``user_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

Parse = Callable[[Record, str], Any]
MAX_PER_PAGE = 50


def _count(body: Record, name: str) -> int | None:
    return rules.int_range_field(body, name, 0, rules.INT32_MAX)


def _fields(
    strings: tuple[str, ...], numbers: tuple[str, ...], dates: tuple[str, ...]
) -> dict[str, Parse]:
    return {
        **dict.fromkeys(strings, rules.string_field),
        **dict.fromkeys(numbers, rules.number_field),
        **dict.fromkeys(dates, rules.date_field),
    }


# type in the path -> (collection and response key, the type's own fields)
TYPES: dict[str, tuple[str, dict[str, Parse]]] = {
    "deal": (
        "deals",
        {
            **_fields(("name", "status"), (), ("addedAt", "wonAt", "lostAt")),
            "value": rules.int32_field,
        },
    ),
    "invoice": (
        "invoices",
        _fields(("status",), ("total", "amountPaid"), ("invoicedAt", "paidAt")),
    ),
    "subscription": (
        "subscriptions",
        {
            **_fields(
                ("plan", "billingPeriodUnit", "lastInvoiceStatus", "lastTransactionStatus"),
                ("mrr", "dueInvoicesTotal", "paidInvoicesTotal"),
                (
                    "startedAt",
                    "canceledAt",
                    "currentCycleStartAt",
                    "currentCycleEndAt",
                    "nextBillingAt",
                    "dueInvoicesSince",
                ),
            ),
            "billingPeriod": _count,
            "dueInvoicesCount": _count,
            "paidInvoicesCount": _count,
        },
    ),
}


def _type(request: Request) -> tuple[str, str, dict[str, Parse]]:
    kind = request.path_params["type"]
    if kind not in TYPES:
        raise ApiError(404, "Not Found")
    collection, fields = TYPES[kind]
    return kind, collection, fields


def _changes(state: State, body: Record, fields: dict[str, Parse]) -> Record:
    changes = {name: parse(body, name) for name, parse in fields.items() if name in body}
    if "metadata" in body:
        if body["metadata"] is not None and not isinstance(body["metadata"], dict):
            raise ApiError(400, "metadata must be an object")
        changes["metadata"] = body["metadata"] or {}
    if "company" in body or "company_id" in body:
        changes["company"] = entities.company_id(
            state, internal=body.get("company"), company_id=body.get("company_id")
        )
    if "people" in body or "user_id" in body:
        changes["people"] = entities.person_id(
            state, internal=body.get("people"), user_id=body.get("user_id")
        )
    return changes


def _write(state: State, kind: str, body: Record, record: Record | None) -> Record:
    """Create or update one record. ``externalId`` is required unless the record is named by its
    internal id, where it may be sent to change the record's ``externalId``."""
    collection, fields = TYPES[kind]
    external_id = rules.identifier(body, "externalId")
    if record is None:
        external_id = rules.required(external_id, "externalId")
    changes = _changes(state, body, fields)
    index = state.financials_by_external_id
    holder = index.get((collection, external_id)) if external_id else None
    if record is None and holder is not None:
        record = state.collection(collection)[holder]
    elif record is not None and holder not in (None, record["id"]):
        raise ApiError(400, f"externalId {external_id} belongs to another {kind}")
    stamp = state.stamp()
    if record is None:
        record = {
            "id": state.ids.next(),
            "externalIds": {},
            "company": None,
            "people": None,
            **dict.fromkeys(fields),
            "metadata": {},
            "created_at": stamp,
        }
        state.collection(collection)[record["id"]] = record
    previous = record["externalIds"].get("custify")
    if external_id is not None and previous != external_id:
        index.pop((collection, previous), None)
        index[(collection, external_id)] = record["id"]
        record["externalIds"] = {"custify": external_id}
    record.update(changes)
    record["updated_at"] = stamp
    return record


async def post_financial(request: Request) -> Response:
    """``POST /financial/{type}``: an upsert keyed by ``externalId``."""
    kind, _, _ = _type(request)
    return json_response(_write(state_of(request), kind, await json_object(request), None))


def _record(state: State, collection: str, entity: str) -> Record:
    record = state.collection(collection).get(entity)
    if record is None:
        raise ApiError(404, f"{collection[:-1].capitalize()} not found")
    return record


async def post_financial_entity(request: Request) -> Response:
    """``POST /financial/{type}/{entity}``: update the record with that internal id."""
    state = state_of(request)
    kind, collection, _ = _type(request)
    body = await json_object(request)
    record = _record(state, collection, request.path_params["entity"])
    return json_response(_write(state, kind, body, record))


def _envelope(collection: str, records: list[Record], total: int) -> Response:
    if total == 1:
        return json_response(records[0])
    return json_response({collection: records, "total": total})


async def list_financials(request: Request) -> Response:
    """The records of one type, narrowed by ``externalId`` and owner when given."""
    state, params = state_of(request), request.query_params
    _, collection, _ = _type(request)
    records: list[Record] = list(state.collection(collection).values())
    if params.get("externalId"):
        records = [r for r in records if r["externalIds"].get("custify") == params["externalId"]]
    try:
        company = entities.company_id(
            state, internal=params.get("company"), company_id=params.get("company_id")
        )
        person = entities.person_id(
            state, internal=params.get("people"), user_id=params.get("user_id")
        )
    except ApiError:
        records = []
    else:
        records = [
            r for r in records if company in (None, r["company"]) and person in (None, r["people"])
        ]
    page = page_of(
        records, params, max_items=MAX_PER_PAGE, default_sort="created_at", styles=("sort",)
    )
    return _envelope(collection, page.items, page.total)


async def get_financial(request: Request) -> Response:
    """The record with that internal id; a company's or person's internal id lists its records
    instead, in case ``{entity}`` names the owner (the spec's wording allows both readings)."""
    state = state_of(request)
    _, collection, _ = _type(request)
    entity = request.path_params["entity"]
    records = state.collection(collection)
    if entity in records:
        return _envelope(collection, [records[entity]], 1)
    owned = [r for r in records.values() if entity in (r["company"], r["people"])]
    page = page_of(
        owned,
        request.query_params,
        max_items=MAX_PER_PAGE,
        default_sort="created_at",
        styles=("sort",),
    )
    return _envelope(collection, page.items, page.total)


def _delete(state: State, collection: str, record: Record) -> Response:
    del state.collection(collection)[record["id"]]
    external_id = record["externalIds"].get("custify")
    state.financials_by_external_id.pop((collection, external_id), None)
    return deleted_response(f"{collection} with externalId {external_id}", 1)


async def delete_financial(request: Request) -> Response:
    state = state_of(request)
    _, collection, _ = _type(request)
    external_id = request.query_params.get("externalId")
    if not external_id:
        raise ApiError(400, "Bad request: externalId is required")
    internal = state.financials_by_external_id.get((collection, external_id))
    return _delete(state, collection, _record(state, collection, internal or ""))


async def delete_financial_entity(request: Request) -> Response:
    state = state_of(request)
    _, collection, _ = _type(request)
    return _delete(state, collection, _record(state, collection, request.path_params["entity"]))


ROUTES = [
    Route("/financial/{type}", post_financial, methods=["POST"]),
    Route("/financial/{type}", list_financials, methods=["GET"]),
    Route("/financial/{type}", delete_financial, methods=["DELETE"]),
    Route("/financial/{type}/{entity}", post_financial_entity, methods=["POST"]),
    Route("/financial/{type}/{entity}", get_financial, methods=["GET"]),
    Route("/financial/{type}/{entity}", delete_financial_entity, methods=["DELETE"]),
]
