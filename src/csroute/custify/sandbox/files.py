"""Files (docs/custify-api.md, "Files"): multipart upload onto companies and people, the per-entity
listing, unlink, and customer-portal visibility.

The sandbox keeps each file's metadata, not its bytes. Custify documents a 409 "Conflict" on upload
without saying what conflicts; here it is a file of the same name already on one of the entities.
A file unlinked from every entity stays known (its id still answers ``showInPortal``) but is
listed nowhere. Multipart bodies are parsed with the standard library's MIME parser, so the
sandbox needs no form-parsing dependency.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import entities, rules
from csroute.custify.sandbox.listing import page_of
from csroute.custify.sandbox.responses import ApiError, Record, json_object, json_response
from csroute.custify.sandbox.state import State, state_of

ACCOUNT_ID = "5b9f95d838ab5e09b8ed66cb"
MAX_PER_PAGE = 50


async def _form(request: Request) -> tuple[dict[str, str], EmailMessage | None]:
    """The text fields of a multipart/form-data body, and its ``file`` part."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(400, "Bad request: the upload must be multipart/form-data")
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + await request.body())
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise ApiError(400, "Bad request: the multipart body cannot be read")
    fields: dict[str, str] = {}
    upload = None
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        name = part.get_param("name", header="content-disposition")
        if name == "file" and part.get_filename():
            upload = part
        elif isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = payload.decode() if isinstance(payload, bytes) else ""
    return fields, upload


def _owners(state: State, values: dict[str, Any]) -> tuple[str | None, str | None]:
    """(company, person) internal ids named by ``companyId``/``peopleId``; 404 if unknown."""
    return (
        entities.company_id(state, internal=values.get("companyId")),
        entities.person_id(state, internal=values.get("peopleId")),
    )


def _file(state: State, file_id: Any) -> Record:
    file = state.files.get(file_id) if isinstance(file_id, str) else None
    if file is None:
        raise ApiError(404, "File not found")
    return file


async def upload(request: Request) -> Response:
    state = state_of(request)
    fields, part = await _form(request)
    if part is None:
        raise ApiError(400, "file is required")
    company, person = _owners(state, fields)
    if company is None and person is None:
        raise ApiError(400, "companyId or peopleId is required")
    name = part.get_filename() or "file"
    for other in state.files.values():
        if other["name"] == name and (company in other["companies"] or person in other["peoples"]):
            raise ApiError(409, f"Conflict: a file named {name} is already there")
    content = part.get_payload(decode=True)
    file: Record = {
        "id": state.ids.next(),
        "account": ACCOUNT_ID,
        "companies": [company] if company else [],
        "peoples": [person] if person else [],
        "extension": name.rsplit(".", 1)[1].lower() if "." in name else "",
        "mimeType": part.get_content_type(),
        "name": name,
        "size": len(content) if isinstance(content, bytes) else 0,
        "created_at": state.stamp(),
        "showInPortal": False,
    }
    state.files[file["id"]] = file
    return json_response(file)


async def list_files(request: Request) -> Response:
    """One company's or person's files, newest first; ``searchKey`` matches names."""
    state, params = state_of(request), request.query_params
    if not params.get("companyId") and not params.get("peopleId"):
        raise ApiError(400, "companyId or peopleId is required")
    company, person = params.get("companyId"), params.get("peopleId")
    needle = (params.get("searchKey") or "").casefold()
    records = [
        file
        for file in state.files.values()
        if (company is None or company in file["companies"])
        and (person is None or person in file["peoples"])
        and needle in file["name"].casefold()
    ]
    page = page_of(records, params, max_items=MAX_PER_PAGE, default_sort="created_at")
    return json_response({"files": page.items, "total": page.total})


async def unlink(request: Request) -> Response:
    """Take a file off the company and/or person named, or off every entity when none is."""
    state = state_of(request)
    body = await json_object(request)
    file = _file(state, rules.required(rules.identifier(body, "fileId"), "fileId"))
    company, person = _owners(state, body)
    named = [(owner, key) for owner, key in ((company, "companies"), (person, "peoples")) if owner]
    if any(owner not in file[key] for owner, key in named):
        raise ApiError(404, "File not found on that entity")
    if not named:
        file["companies"], file["peoples"] = [], []
    for owner, key in named:
        file[key].remove(owner)
    return json_response({"message": "File unlinked successfully"})


async def show_in_portal(request: Request) -> Response:
    state = state_of(request)
    file = _file(state, request.path_params["id"])
    body = await json_object(request)
    file["showInPortal"] = rules.required(rules.bool_field(body, "showInPortal"), "showInPortal")
    return json_response(file)


ROUTES = [
    Route("/file", upload, methods=["POST"]),
    Route("/file", list_files, methods=["GET"]),
    Route("/file/unlink", unlink, methods=["POST"]),
    Route("/file/{id}/showInPortal", show_in_portal, methods=["PUT"]),
]
