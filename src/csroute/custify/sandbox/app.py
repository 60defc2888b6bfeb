"""The Custify sandbox as a Starlette app: resource routes behind the gate, plus the admin routes.

A new resource is a module with a ``ROUTES`` list added to ``RESOURCE_ROUTES``; it reaches the
shared state through ``state_of(request)`` and reports errors by raising ``ApiError``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from csroute.custify import api
from csroute.custify.sandbox import (
    admin,
    batch,
    comments,
    companies,
    custom_data,
    events,
    files,
    financials,
    notes,
    people,
    readonly,
    scores,
    tags,
    tasks,
    tickets,
    time_tracks,
    webhooks,
)
from csroute.custify.sandbox.faults import Faults
from csroute.custify.sandbox.gate import Gate
from csroute.custify.sandbox.ratelimit import FixedWindowLimiter
from csroute.custify.sandbox.responses import ApiError, error_response
from csroute.custify.sandbox.settings import DEFAULT_API_KEY, Settings
from csroute.custify.sandbox.state import State

RESOURCE_ROUTES = [
    *people.ROUTES,
    *companies.ROUTES,
    *events.ROUTES,
    *batch.ROUTES,
    *tags.ROUTES,
    *notes.ROUTES,
    *tickets.ROUTES,
    *tasks.ROUTES,
    *comments.ROUTES,
    *files.ROUTES,
    *scores.ROUTES,
    *financials.ROUTES,
    *time_tracks.ROUTES,
    *custom_data.ROUTES,
    *readonly.ROUTES,
]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in Custify's error shape too, not Starlette's plain text."""
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail)


def create_app(
    *,
    api_keys: Collection[str] = (DEFAULT_API_KEY,),
    read_only_keys: Collection[str] = (),
    rate_limit: tuple[int, float] | None = (api.RATE_LIMIT_REQUESTS, api.RATE_LIMIT_WINDOW_S),
    batch_max_sync: int = api.MAX_SYNCHRONOUS_JOBS,
    batch_max_async: int = api.MAX_ASYNCHRONOUS_JOBS,
    batch_retention_s: float = api.BATCH_RETENTION_S,
    request_log_size: int = 1000,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """A fresh sandbox with empty state.

    ``rate_limit`` is (requests, window seconds) per API key, Custify's default 100 per 10 s, or
    None to turn it off. ``clock`` (monotonic seconds) drives the rate-limit windows and batch
    retention, so tests can move time instead of waiting.
    """
    settings = Settings(
        api_keys=frozenset([api_keys] if isinstance(api_keys, str) else api_keys),
        read_only_keys=frozenset(
            [read_only_keys] if isinstance(read_only_keys, str) else read_only_keys
        ),
        rate_limit=rate_limit,
        batch_max_sync=batch_max_sync,
        batch_max_async=batch_max_async,
        batch_retention_s=batch_retention_s,
        request_log_size=request_log_size,
        clock=clock,
    )
    app = Starlette(
        routes=[*RESOURCE_ROUTES, *admin.ROUTES, *webhooks.ROUTES],
        middleware=[Middleware(Gate)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.settings = settings
    app.state.sandbox = State()
    app.state.faults = Faults()
    app.state.limiter = FixedWindowLimiter(*rate_limit, clock) if rate_limit else None
    app.state.request_log = deque(maxlen=request_log_size)
    app.state.webhooks = webhooks.Outgoing()
    return app
