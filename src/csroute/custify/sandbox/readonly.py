"""The resources Custify's public API only reads: meetings, surveys and their responses, health
scores, calculated metrics, segments, lifecycles, playbooks and customer objectives
(docs/custify-api.md, "Meetings" to "Other read-only resources"). Their records are stored with
``POST /__sandbox/seed``; NPS and CSAT scores sent with a ``surveyId`` add survey responses too.

Seeded records get an id, ``created_at``/``updated_at`` and ``tags`` unless they bring their own,
plus the defaults of their resource, so polling triggers can be tested with chosen timestamps.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import entities, field_filters, filters, rules
from csroute.custify.sandbox.listing import Page, page_of
from csroute.custify.sandbox.responses import ApiError, Record, json_response
from csroute.custify.sandbox.state import State, state_of

COMPANY = ("company", "companies")


# definitions with a ``type``: (default, how the resource spells the company type). The spec,
# the MCP server and other clients disagree on the spelling, so ``company`` and ``companies`` are
# one type (docs/custify-api.md, "Other read-only resources").
TYPED = {
    "calculated_metrics": ("company", "company"),
    "segments": ("people", "company"),
    "playbooks": ("companies", "companies"),
}


def type_of(collection: str, value: Any) -> str:
    default, company = TYPED[collection]
    value = value or default
    if value in COMPANY:
        return company
    if value != "people":
        raise ApiError(400, "type must be company, companies or people")
    return "people"


# collection -> the defaults of its records; order matters: surveys are stored before the
# responses that name them.
SEEDABLE: dict[str, Record] = {
    "meetings": {
        "title": None,
        "recurring": False,
        "organizer": None,
        "participants": [],
        "company": [],
        "people": [],
    },
    "surveys": {"name": None},
    "survey_responses": {
        "comment": None,
        "email": None,
        "name": None,
        "company": None,
        "people": None,
        "extraQuestions": [],
    },
    "health_scores": {"name": None, "description": None},
    "calculated_metrics": {"name": None, "description": None},
    "segments": {"name": None, "goal": None},
    "lifecycles": {"name": None, "status": "active", "goals": [], "tasks": []},
    "playbooks": {
        "name": None,
        "status": "active",
        "company_counts": dict.fromkeys(
            ("in_progress", "completed", "completed_end", "completed_exit", "completed_manual"),
            0,
        ),
    },
    "objectives": {"objectiveStatus": "not_started"},
}
# listed by ``position`` (asc) by default; seeded without one, a record takes the next
POSITIONED = ("lifecycles", "playbooks")


def seed(state: State, batches: Record) -> Record:
    """Store the records, every check first: a 400 stores nothing."""
    built: list[tuple[str, Record]] = []
    for name, defaults in SEEDABLE.items():
        for index, raw in enumerate(batches.get(name, [])):
            stamp = state.stamp()
            record: Record = {"id": state.ids.next(), "created_at": stamp, "updated_at": stamp}
            record.update({"tags": [], **copy.deepcopy(defaults), **raw})
            for when in ("created_at", "updated_at"):
                record[when] = rules.required(rules.date_field(record, when), f"{name}: {when}")
            if name in POSITIONED:
                record.setdefault("position", len(state.collection(name)) + index + 1)
            if name == "survey_responses":
                record.setdefault("responseDate", record["created_at"])
            built.append((name, record))
    surveys = set(state.surveys) | {record["id"] for name, record in built if name == "surveys"}
    for name, record in built:
        if name in TYPED:
            record["type"] = type_of(name, record.get("type"))
        if name == "surveys" and record.get("type") not in ("nps", "csat"):
            raise ApiError(400, "surveys: type must be nps or csat")
        if name == "survey_responses" and record.get("survey") not in surveys:
            raise ApiError(400, "survey_responses: survey must be the id of a seeded survey")
        if name == "objectives":
            company = entities.company_id(
                state, internal=record.get("company"), company_id=record.get("company_id")
            )
            record["company"] = rules.required(company, "objectives: company")
    stored: Record = {}
    for name, record in built:
        state.collection(name)[record["id"]] = record
        stored.setdefault(name, []).append(record)
    return stored


def _not_found(collection: str) -> str:
    return collection.rstrip("s").replace("_", " ").capitalize() + " not found"


def definition_routes(
    path: str,
    collection: str,
    *,
    max_items: int,
    default_sort: str = "created_at",
    descending: bool = True,
) -> list[Route]:
    """List and get-one for a kind of definition: ``{<collection>: [...], total}`` (with ``type``
    for the typed ones) and the bare object, or 404, for one id."""

    async def listing(request: Request) -> Response:
        params = request.query_params
        records: Any = state_of(request).collection(collection).values()
        if collection in TYPED:
            wanted = type_of(collection, params.get("type"))
            records = [record for record in records if record["type"] == wanted]
        if collection == "lifecycles":
            records = filters.applied(records, params)
        page = page_of(
            records, params, max_items=max_items, default_sort=default_sort, descending=descending
        )
        items = page.items
        if collection == "playbooks" and params.get("includeCounts", "true").lower() == "false":
            items = [{k: v for k, v in item.items() if k != "company_counts"} for item in items]
        return json_response({collection: items, "total": page.total})

    async def get_one(request: Request) -> Response:
        record = state_of(request).collection(collection).get(request.path_params["id"])
        if record is None:
            raise ApiError(404, _not_found(collection))
        return json_response(record)

    return [
        Route(path, listing, methods=["GET"]),
        Route(f"{path}/{{id}}", get_one, methods=["GET"]),
    ]


async def simple_health_scores(request: Request) -> Response:
    """``GET /health_score/simple`` (MCP server): every definition as a bare array."""
    return json_response(list(state_of(request).health_scores.values()))


def _meetings(request: Request, records: Any) -> Response:
    page = page_of(records, request.query_params, max_items=50, default_sort="startAt")
    return json_response({"meetings": page.items, "total": page.total})


async def list_meetings(request: Request) -> Response:
    """``GET /calendar/meeting``: ``company_id``, ``user_id`` and ``email`` narrow the list; one
    that matches nobody gives an empty list."""
    state, params = state_of(request), request.query_params
    records: Any = state.meetings.values()
    try:
        company = entities.company_id(state, company_id=params.get("company_id"))
        person = entities.person_id(state, user_id=params.get("user_id"), email=params.get("email"))
    except ApiError:
        records = []
    else:
        if company is not None:
            records = [record for record in records if company in record["company"]]
        if person is not None:
            records = [record for record in records if person in record["people"]]
    return _meetings(request, records)


async def entity_meetings(request: Request) -> Response:
    entity_type = request.path_params["entityType"]
    if entity_type not in ("company", "people"):
        raise ApiError(400, "entityType must be company or people")
    entity_id = request.path_params["entityId"]
    records = state_of(request).meetings.values()
    return _meetings(request, [r for r in records if entity_id in r[entity_type]])


async def list_surveys(request: Request) -> Response:
    """``GET /survey``: a bare array, newest first, with no total."""
    records = state_of(request).surveys.values()
    page = page_of(records, request.query_params, max_items=50, default_sort="created_at")
    return json_response(page.items)


async def survey_responses(request: Request) -> Response:
    state = state_of(request)
    survey_id = request.path_params["id"]
    if survey_id not in state.surveys:
        raise ApiError(404, "Survey not found")
    records = [r for r in state.survey_responses.values() if r["survey"] == survey_id]
    page = page_of(records, request.query_params, max_items=50, default_sort="responseDate")
    return _paged("responses", page)


def _paged(key: str, page: Page) -> Response:
    return json_response(
        {
            key: page.items,
            "total": page.total,
            "page": page.page,
            "itemsPerPage": page.items_per_page,
        }
    )


OBJECTIVE_FILTERS = field_filters.by_key(
    "objectiveStatus", "importance", "risk", "health", "dueAt", "assignedTo", "tags"
)


async def list_objectives(request: Request) -> Response:
    """``GET /objective``: one company's objectives; ``company`` or ``company_id`` is required."""
    state, params = state_of(request), request.query_params
    company = entities.company_id(
        state, internal=params.get("company"), company_id=params.get("company_id")
    )
    if company is None:
        raise ApiError(400, "company or company_id is required")
    records = [r for r in state.objectives.values() if r["company"] == company]
    page = page_of(
        field_filters.applied(records, params, OBJECTIVE_FILTERS),
        params,
        max_items=50,
        default_sort="created_at",
        styles=("sorting", "sort"),
    )
    return _paged("objectives", page)


ROUTES = [
    Route("/calendar/meeting", list_meetings, methods=["GET"]),
    Route("/calendar/meeting/{entityType}/{entityId}", entity_meetings, methods=["GET"]),
    Route("/survey", list_surveys, methods=["GET"]),
    Route("/survey/{id}/responses", survey_responses, methods=["GET"]),
    Route("/health_score/simple", simple_health_scores, methods=["GET"]),
    *definition_routes("/health_score", "health_scores", max_items=50),
    *definition_routes("/calculated_metric", "calculated_metrics", max_items=50),
    *definition_routes("/segment", "segments", max_items=50),
    *definition_routes(
        "/lifecycle", "lifecycles", max_items=200, default_sort="position", descending=False
    ),
    *definition_routes(
        "/playbook", "playbooks", max_items=200, default_sort="position", descending=False
    ),
    Route("/objective", list_objectives, methods=["GET"]),
]
