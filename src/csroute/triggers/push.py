"""The endpoint Custify's outgoing webhooks call: ``POST /triggers/<name>/webhook``.

It sits in front of the other apps of ``csroute serve`` and passes every other request on.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from csroute.triggers.runner import Triggers

MAX_BODY: Final = 1024 * 1024
_PATH: Final = re.compile(r"^/triggers/([^/]+)/webhook$")


class PushApp:
    def __init__(self, triggers: Triggers, fallback: ASGIApp) -> None:
        self.triggers = triggers
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.fallback(scope, receive, send)
            return
        request = Request(scope, receive)
        if request.method != "POST":
            status, answer = 405, {"error": "use POST"}
        else:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    break
            if len(body) > MAX_BODY:
                status, answer = 413, {"error": f"body: larger than {MAX_BODY} bytes"}
            else:
                status, answer = await self.triggers.receive(match[1], body, request.headers)
        await JSONResponse(answer, status_code=status)(scope, receive, send)
