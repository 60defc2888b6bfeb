"""The operations app: everything on csroute's port that is not ingestion.

``/health`` says the process is alive; ``/ready`` that the store can commit; ``/metrics`` is
Prometheus text. ``/admin/...`` manages dead letters, shows delivery status and streams the
live capture (``/admin/stream``, server-sent events), guarded by a bearer token, and does not
exist at all unless a token is configured.
"""

from __future__ import annotations

import dataclasses
import hmac
import time
from typing import Any

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from csroute.capture.live import Capture
from csroute.capture.stream import BadFilter, parse_filter, sse
from csroute.config import Config
from csroute.ops.deadletters import all_ids, dead_letter_json
from csroute.ops.forget import forget_user
from csroute.router.router import Router
from csroute.store.base import Store, StoreUnavailable


class ForgetRequest(msgspec.Struct, forbid_unknown_fields=True):
    user_id: str
    destinations: list[str] = []


class ReplayRequest(msgspec.Struct, forbid_unknown_fields=True):
    ids: list[int] = []
    destination: str | None = None
    all: bool = False


def create_ops_app(
    config: Config, store: Store, router: Router | None, capture: Capture | None = None
) -> Starlette:
    admin_token = config.admin.token

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

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {admin_token}".encode())

    def admin(handler: Any) -> Any:
        async def guarded(request: Request) -> Response:
            if not authorized(request):
                return JSONResponse(
                    {"error": "missing or wrong admin token (Authorization: Bearer ...)"},
                    status_code=401,
                )
            try:
                response: Response = await handler(request)
            except msgspec.ValidationError as e:
                return JSONResponse({"error": f"invalid request body: {e}"}, status_code=400)
            return response

        return guarded

    async def status(_: Request) -> Response:
        return JSONResponse(await router.status() if router else {})

    async def list_dead(request: Request) -> Response:
        q = request.query_params
        letters = await store.dead_letters(
            q.get("destination"), int(q.get("after_id", 0)), min(int(q.get("limit", 100)), 1000)
        )
        return JSONResponse([dead_letter_json(d, with_event=False) for d in letters])

    async def show_dead(request: Request) -> Response:
        letter = await store.dead_letter(int(request.path_params["id"]))
        if letter is None:
            return JSONResponse({"error": "no such dead letter"}, status_code=404)
        return JSONResponse(dead_letter_json(letter, with_event=True))

    async def replay(request: Request) -> Response:
        body = msgspec.json.decode(await request.body(), type=ReplayRequest)
        ids = await _select(store, body)
        count = await store.replay(ids, time.time())
        if router is not None:
            router.wake()
        return JSONResponse({"replayed": count})

    async def discard(request: Request) -> Response:
        body = msgspec.json.decode(await request.body(), type=ReplayRequest)
        return JSONResponse({"discarded": await store.discard(await _select(store, body))})

    async def forget(request: Request) -> Response:
        body = msgspec.json.decode(await request.body(), type=ForgetRequest)
        results = await forget_user(config, store, body.user_id, body.destinations)
        failed = any(r.error for r in results)
        shown = [dataclasses.asdict(r) for r in results]
        return JSONResponse(shown, status_code=502 if failed else 200)

    async def stream(request: Request) -> Response:
        if capture is None:
            return JSONResponse({"error": "this process captures nothing"}, status_code=404)
        try:
            wants = parse_filter(dict(request.query_params))
        except BadFilter as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return StreamingResponse(
            sse(capture, wants),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    routes = [
        Route("/health", health),
        Route("/ready", ready),
        Route("/metrics", metrics),
    ]
    if admin_token:
        routes += [
            Route("/admin/status", admin(status)),
            Route("/admin/dead-letters", admin(list_dead)),
            Route("/admin/dead-letters/{id:int}", admin(show_dead)),
            Route("/admin/dead-letters/replay", admin(replay), methods=["POST"]),
            Route("/admin/dead-letters/discard", admin(discard), methods=["POST"]),
            Route("/admin/forget", admin(forget), methods=["POST"]),
            Route("/admin/stream", admin(stream)),
        ]
    return Starlette(routes=routes)


async def _select(store: Store, body: ReplayRequest) -> list[int]:
    """Dead-letter ids named explicitly, or all of them (optionally of one destination)."""
    return await all_ids(store, body.destination) if body.all else body.ids
