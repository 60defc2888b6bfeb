"""Tasks (docs/custify-api.md, "Tasks"): create, get by internal id or ``externalId`` (always the
``{tasks, total}`` list, empty rather than 404), update by ``_id`` with only the changed fields,
the listing with ``sorting`` and ``[{field, values}]`` filters, and the filter helper.

``POST /task`` also takes the MCP server's ``{"metadata": {title, entity, entityModel, ...}}``
shape, which the spec says the emulator may accept. Custify users are not modelled: ``assignedTo``
is kept as sent, and shown as ``assignedToEmail`` when it is an email. A task set to ``done`` gets
``completedAt``; set back, it loses it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import entities, field_filters, rules, webhooks
from csroute.custify.sandbox.listing import page_of
from csroute.custify.sandbox.responses import ApiError, Record, json_object, json_response
from csroute.custify.sandbox.state import State, state_of

PRIORITIES = ("low", "medium", "high")
STATUSES = ("open", "done", "not relevant")
MAX_PER_PAGE = 50


def _status_values(task: Record) -> list[str]:
    """A task's status for filtering, plus ``overdue`` for an open task due yesterday or before."""
    values = [task["status"]]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    if task["status"] == "open" and task["dueDate"] and task["dueDate"][:10] <= yesterday:
        values.append("overdue")
    return values


FILTERS: dict[str, field_filters.Getter] = {
    **field_filters.by_key("createdBy", "company", "assignedTo", "tags"),
    "status": _status_values,
}


def _checklist(value: Any) -> list[Record]:
    if not isinstance(value, list):
        raise ApiError(400, "checklist must be an array")
    items = []
    for n, item in enumerate(value):
        where = f"checklist[{n}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"{where} must be an object")
        items.append(
            {
                "name": rules.string_field(item, "name"),
                "completed": rules.required(
                    rules.bool_field(item, "completed"), f"{where}.completed"
                ),
                "assignedTo": rules.string_field(item, "assignedTo"),
                "dueDate": rules.date_field(item, "dueDate"),
            }
        )
    return items


def _from_mcp(body: Record) -> Record:
    """The MCP server's create shape, in the public spec's fields."""
    meta = body["metadata"]
    assignees = meta.get("assignees") or []
    owner = "company" if meta.get("entityModel", "Company") == "Company" else "people"
    return {
        "name": meta.get("title"),
        "priority": meta.get("priority"),
        "description": meta.get("description"),
        "dueDate": meta.get("dueDate"),
        owner: meta.get("entity"),
        "assignedTo": assignees[0] if assignees else None,
        "collaborators": assignees[1:],
    }


def _fields(state: State, body: Record) -> Record:
    fields: Record = {}
    for name in ("name", "assignedTo", "externalId"):
        if name in body:
            fields[name] = rules.string_field(body, name)
    if "description" in body:
        fields["description"] = rules.string_field(body, "description", None)
    if "priority" in body:
        fields["priority"] = rules.choice_field(body, "priority", PRIORITIES)
    if "status" in body:
        fields["status"] = rules.choice_field(body, "status", STATUSES)
    if "dueDate" in body:
        fields["dueDate"] = rules.date_field(body, "dueDate")
    for flag in ("assignedToCustomer", "showInPortal"):
        if flag in body:
            fields[flag] = bool(rules.bool_field(body, flag))
    for ids in ("collaborators", "files", "tags"):
        if ids in body:
            fields[ids] = rules.id_list(body, ids) or []
    if "checklist" in body:
        fields["checklist"] = _checklist(body["checklist"])
    if "company" in body or "company_id" in body:
        fields["company"] = entities.company_id(
            state, internal=body.get("company"), company_id=body.get("company_id")
        )
    if "people" in body or "user_id" in body:
        fields["people"] = entities.person_id(
            state, internal=body.get("people"), user_id=body.get("user_id")
        )
    for name in ("name", "priority", "status"):
        if name in fields:
            rules.required(fields[name], name)
    return fields


def _derive(task: Record, stamp: str) -> None:
    """The TaskListing fields that follow from the others."""
    assigned = task["assignedTo"]
    task["assignedToEmail"] = assigned if assigned and "@" in assigned else None
    task["collaboratorsDetailed"] = [
        {"id": c, "name": None, "email": c if "@" in c else None} for c in task["collaborators"]
    ]
    if task["status"] == "done":
        task["completedAt"] = task["completedAt"] or stamp
    else:
        task["completedAt"] = None


def create_task(state: State, body: Record) -> Record:
    if "name" not in body and isinstance(body.get("metadata"), dict):
        body = _from_mcp(body)
    fields = _fields(state, body)
    rules.required(fields.get("name"), "name")
    rules.required(fields.get("priority"), "priority")
    stamp = state.stamp()
    task: Record = {
        "id": state.ids.next(),
        "name": None,
        "priority": None,
        "status": "open",
        "description": None,
        "dueDate": None,
        "company": None,
        "people": None,
        "assignedTo": None,
        "assignedToName": None,
        "assignedToCustomer": False,
        "collaborators": [],
        "checklist": [],
        "externalId": None,
        "files": [],
        "tags": [],
        "showInPortal": False,
        "createdBy": None,
        "completedAt": None,
        "completedBy": None,
        "completedByName": None,
        **fields,
        "created_at": stamp,
        "updated_at": stamp,
    }
    _derive(task, stamp)
    state.tasks[task["id"]] = task
    return task


async def post_task(request: Request) -> Response:
    task = create_task(state_of(request), await json_object(request))
    webhooks.emit(request, "task.created", task)
    return json_response(task)


async def put_task(request: Request) -> Response:
    """TaskUpdate: ``_id`` is required and must be the task in the path."""
    state = state_of(request)
    body = await json_object(request)
    task_id = rules.required(rules.identifier(body, "_id"), "_id")
    if task_id != request.path_params["id"]:
        raise ApiError(400, "_id must be the id of the task in the path")
    task = state.tasks.get(task_id)
    if task is None:
        raise ApiError(404, "Task not found")
    task.update(_fields(state, body))
    stamp = state.stamp()
    _derive(task, stamp)
    task["updated_at"] = stamp
    webhooks.emit(request, "task.updated", task)
    return json_response(task)


def _tasks(records: list[Record]) -> Response:
    return json_response({"tasks": records, "total": len(records)})


async def get_task(request: Request) -> Response:
    task = state_of(request).tasks.get(request.path_params["id"])
    return _tasks([task] if task else [])


async def list_tasks(request: Request) -> Response:
    state, params = state_of(request), request.query_params
    records: Any = state.tasks.values()
    if params.get("externalId"):
        return _tasks([task for task in records if task["externalId"] == params["externalId"]])
    records = field_filters.applied(records, params, FILTERS)
    records = field_filters.search(records, params.get("searchTerm"), ("name", "description"))
    page = page_of(records, params, max_items=MAX_PER_PAGE, default_sort="created_at")
    return json_response({"tasks": page.items, "total": page.total})


async def filter_values(request: Request) -> Response:
    """``GET /task/filtersAvailableValues``: the values the task filters can take right now."""
    state = state_of(request)
    values: dict[str, dict[str, None]] = {
        "assignedTo": {},
        "company": {},
        "createdBy": {},
        "tags": {},
    }
    for task in state.tasks.values():
        for field in ("assignedTo", "company", "createdBy"):
            if task[field]:
                values[field][task[field]] = None
        values["tags"].update(dict.fromkeys(task["tags"]))

    def named(field: str) -> list[Record]:
        return [{"id": v, "name": entities.entity_name(state, v) or v} for v in values[field]]

    return json_response(
        {
            "assignedTo": named("assignedTo"),
            "company": named("company"),
            "createdBy": named("createdBy"),
            "tags": [{"id": tag} for tag in values["tags"]],
        }
    )


ROUTES = [
    Route("/task", list_tasks, methods=["GET"]),
    Route("/task", post_task, methods=["POST"]),
    Route("/task/filtersAvailableValues", filter_values, methods=["GET"]),
    Route("/task/{id}", get_task, methods=["GET"]),
    Route("/task/{id}", put_task, methods=["PUT"]),
]
