"""The endpoint Custify's outgoing webhooks call: ``POST /triggers/<name>/webhook``.

It sits in front of the other apps of ``csroute serve`` and passes every other request on.
Its refusals take the admin API's shape, ``{"error", "field", "rule"}``, and its body the same
size limit and read deadline (``limits.body_timeout_s``).
"""

from __future__ import annotations

import re
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from csroute.events.errors import RequestError
from csroute.ops.params import read_body, refusal
from csroute.triggers.runner import Triggers

_PATH: Final = re.compile(r"^/triggers/([^/]+)/webhook$")


class PushApp:
    def __init__(self, triggers: Triggers, fallback: ASGIApp, body_timeout_s: float) -> None:
        self.triggers = triggers
        self.fallback = fallback
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.fallback(scope, receive, send)
            return
        request = Request(scope, receive)
        response: Response
        try:
            if request.method != "POST":
                raise RequestError(405, "", "method", "use POST")
            body = await read_body(request, self.body_timeout_s)
            response = JSONResponse(await self.triggers.receive(match[1], body, request.headers))
        except RequestError as e:
            response = refusal(e, {"allow": "POST"} if e.status == 405 else None)
        await response(scope, receive, send)
