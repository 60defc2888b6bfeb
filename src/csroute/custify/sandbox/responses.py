"""JSON envelopes shared by every sandbox resource.

Custify documents no error schema (docs/custify-api.md, "Errors"), so every error carries both keys
that clients are known to read: ``error`` (RudderStack's mocks) and ``message`` (Make, the MCP
server)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

Record = dict[str, Any]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class ApiError(Exception):
    """A Custify-style error response, raised anywhere inside a handler or a batch job."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(body), status, headers, media_type="application/json")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message, "message": message}, status, headers)


def deleted_response(subject: str, count: int) -> Response:
    """The success body RudderStack's mocks show for ``DELETE /people``, plus the ``deleted`` count
    another client's mock expects; both are unconfirmed, so both are sent."""
    body = {
        "msg": f"All {subject} were successfully deleted",
        "code": "Success",
        "params": None,
        "deleted": count,
    }
    return json_response(body)


async def json_body(request: Request) -> Any:
    """The request body as JSON; invalid JSON is Custify's 400 for invalid syntax."""
    raw = await request.body()
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError:
        raise ApiError(400, "Bad request: the body is not valid JSON") from None


async def json_object(request: Request) -> Record:
    """The request body as a JSON object; anything else is Custify's 400 for invalid syntax."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Bad request: the body must be a JSON object")
    return body
