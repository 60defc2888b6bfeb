"""The operations app: everything on csroute's port that is not ingestion.

``/health`` says the process is alive; ``/ready`` that the store can commit; ``/metrics`` is
Prometheus text. ``/admin/...`` manages dead letters, shows delivery status and streams the
live capture (``/admin/stream``, server-sent events), guarded by a bearer token, and does not
exist at all unless a token is configured; nor does the web console (``/console``), whose
session cookie the stream accepts too (the console's live view is an ``EventSource``).
"""

from __future__ import annotations

import dataclasses
import hmac
import time
from collections.abc import Collection
from typing import Annotated, Any

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route

from csroute.capture.live import Capture, Filter
from csroute.capture.stream import parse_filter, sse
from csroute.config import Config
from csroute.console.app import create_console
from csroute.console.auth import session_nonce
from csroute.events.errors import RequestError
from csroute.ops.deadletters import all_ids, dead_letter_json
from csroute.ops.forget import forget_user
from csroute.ops.openapi import document
from csroute.ops.params import (
    MAX_ID,
    MAX_IDS,
    MAX_PAGE,
    Id,
    Name,
    decode_body,
    int_param,
    known_params,
    path_id,
    refusal,
    store_unavailable,
    text_param,
)
from csroute.router.redact import config_secrets
from csroute.router.router import Router
from csroute.secrets import scrubber
from csroute.store.base import Store, StoreUnavailable


class ForgetRequest(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Name
    destinations: Annotated[list[Name], msgspec.Meta(max_length=MAX_IDS)] = []


class ReplayRequest(msgspec.Struct, forbid_unknown_fields=True):
    ids: Annotated[list[Id], msgspec.Meta(max_length=MAX_IDS)] = []
    destination: Name | None = None
    all: bool = False


def create_ops_app(
    config: Config, store: Store, router: Router | None, capture: Capture | None = None
) -> Starlette:
    admin_token = config.admin.token
    body_timeout_s = config.limits.body_timeout_s
    scrub = scrubber(config_secrets(config))

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        try:
            await store.ping()
        except StoreUnavailable as e:
            return JSONResponse({"status": "unavailable", "error": str(e)}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(_: Request) -> Response:
        if router is not None:
            await router.status()  # refreshes the backlog gauges
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    def authorized(request: Request, console: bool) -> bool:
        given = request.headers.get("authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {admin_token}".encode()):
            return True
        return console and session_nonce(admin_token, request) is not None

    def admin(handler: Any, query: Collection[str] = (), console: bool = False) -> Any:
        """``handler`` behind the token; ``query``: the parameters it takes; ``console``: a
        console session cookie will do too (GET only: a cookie alone must never change state)."""

        async def guarded(request: Request) -> Response:
            try:
                if not authorized(request, console):
                    raise RequestError(
                        401,
                        "Authorization",
                        "admin_token",
                        "missing or wrong admin token (Authorization: Bearer ...)",
                    )
                known_params(request.query_params, query)
                response: Response = await handler(request)
            except RequestError as e:
                return refusal(e)
            except StoreUnavailable as e:
                return refusal(store_unavailable(e))
            return response

        return guarded

    async def status(_: Request) -> Response:
        return JSONResponse(await router.status() if router else {})

    async def list_dead(request: Request) -> Response:
        q = request.query_params
        after_id = int_param(q, "after_id", 0, 0, MAX_ID)
        limit = int_param(q, "limit", 100, 1, MAX_PAGE)
        letters = await store.dead_letters(text_param(q, "destination"), after_id, limit)
        return JSONResponse([dead_letter_json(d, with_event=False, scrub=scrub) for d in letters])

    async def show_dead(request: Request) -> Response:
        letter = await store.dead_letter(path_id(request.path_params["id"]))
        if letter is None:
            raise RequestError(404, "id", "not_found", "no such dead letter")
        return JSONResponse(dead_letter_json(letter, with_event=True, scrub=scrub))

    async def replay(request: Request) -> Response:
        body = await decode_body(request, ReplayRequest, body_timeout_s)
        ids = await _select(store, body)
        count = await store.replay(ids, time.time())
        if router is not None:
            router.wake()
        return JSONResponse({"replayed": count})

    async def discard(request: Request) -> Response:
        body = await decode_body(request, ReplayRequest, body_timeout_s)
        return JSONResponse({"discarded": await store.discard(await _select(store, body))})

    async def forget(request: Request) -> Response:
        body = await decode_body(request, ForgetRequest, body_timeout_s)
        results = await forget_user(config, store, body.user_id, body.destinations)
        failed = any(r.error for r in results)
        shown = [dataclasses.asdict(r) for r in results]
        return JSONResponse(shown, status_code=502 if failed else 200)

    description = document()

    async def openapi(_: Request) -> Response:
        return JSONResponse(description)

    async def stream(request: Request) -> Response:
        if capture is None:
            return refusal(RequestError(404, "", "not_found", "this process captures nothing"))
        try:
            wants = parse_filter(dict(request.query_params))
        except RequestError as e:
            return refusal(e)
        return StreamingResponse(
            sse(capture, wants),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    routes: list[BaseRoute] = [
        Route("/health", health),
        Route("/ready", ready),
        Route("/metrics", metrics),
        Route("/openapi.json", openapi),
    ]
    if admin_token:
        routes += [
            Route("/admin/status", admin(status)),
            Route("/admin/dead-letters", admin(list_dead, ("destination", "after_id", "limit"))),
            Route("/admin/dead-letters/{id:id}", admin(show_dead)),
            Route("/admin/dead-letters/replay", admin(replay), methods=["POST"]),
            Route("/admin/dead-letters/discard", admin(discard), methods=["POST"]),
            Route("/admin/forget", admin(forget), methods=["POST"]),
            Route("/admin/stream", admin(stream, Filter.__struct_fields__, console=True)),
            Mount("/console", create_console(config, store, router, scrub)),
        ]
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},  # type: ignore[dict-item]
    )


async def _http_error(_: Request, exc: HTTPException) -> Response:
    """Starlette's own refusals (no such path, method not allowed) in the admin API's shape."""
    rule = {404: "not_found", 405: "method"}.get(exc.status_code, "http")
    return refusal(RequestError(exc.status_code, "", rule, exc.detail), exc.headers)


async def _select(store: Store, body: ReplayRequest) -> list[int]:
    """Dead-letter ids named explicitly, or all of them (optionally of one destination)."""
    return await all_ids(store, body.destination) if body.all else body.ids
