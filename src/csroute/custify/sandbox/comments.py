"""Comments on notes and tasks (docs/custify-api.md, "Comments"): ``POST
/comment/{entityModel}/{entity}`` creates one, or updates the one whose ``id`` the body carries;
``GET`` lists them with ``sort``/``order``. Writing to a note or task that does not exist is 404;
listing its comments gives an empty list, as Custify's other listings do.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import rules
from csroute.custify.sandbox.listing import page_of
from csroute.custify.sandbox.responses import ApiError, json_object, json_response
from csroute.custify.sandbox.state import state_of

MODELS = {"Note": "notes", "Task": "tasks"}
MAX_PER_PAGE = 50


def _model(request: Request) -> str:
    model: str = request.path_params["entityModel"]
    if model not in MODELS:
        raise ApiError(400, "entityModel must be Note or Task")
    return model


async def post_comment(request: Request) -> Response:
    state = state_of(request)
    model, entity = _model(request), request.path_params["entity"]
    if entity not in state.collection(MODELS[model]):
        raise ApiError(404, f"{model} not found")
    body = await json_object(request)
    text = rules.required(rules.string_field(body, "text", None), "text")
    created_by = rules.string_field(body, "createdBy")
    comment_id = rules.identifier(body, "id")
    stamp = state.stamp()
    if comment_id is not None:
        comment = state.comments.get(comment_id)
        if comment is None or comment["entity"] != entity:
            raise ApiError(404, "Comment not found")
        comment["text"] = text
        if created_by is not None:
            comment["createdBy"] = created_by
    else:
        comment = {
            "id": state.ids.next(),
            "entity": entity,
            "entityModel": model,
            "text": text,
            "createdBy": created_by,
            "created_at": stamp,
        }
        state.comments[comment["id"]] = comment
    comment["updated_at"] = stamp
    return json_response(comment)


async def list_comments(request: Request) -> Response:
    model, entity = _model(request), request.path_params["entity"]
    records = [
        comment
        for comment in state_of(request).comments.values()
        if comment["entity"] == entity and comment["entityModel"] == model
    ]
    page = page_of(
        records,
        request.query_params,
        max_items=MAX_PER_PAGE,
        default_sort="created_at",
        styles=("sort",),
    )
    return json_response({"comments": page.items, "total": page.total})


ROUTES = [
    Route("/comment/{entityModel}/{entity}", list_comments, methods=["GET"]),
    Route("/comment/{entityModel}/{entity}", post_comment, methods=["POST"]),
]
