"""Inspection and control under ``/__sandbox``, a prefix no Custify path uses. These endpoints need
no API key and do not count against the rate limit, so tests can look without disturbing.

- ``GET /__sandbox/state[?summary=true]``: every record, the attribute type locks and the counters.
- ``POST /__sandbox/reset``: forget all records, counters, rate-limit windows, the request log,
  the faults and the outgoing-webhook subscriptions.
- ``GET|POST|DELETE /__sandbox/faults``: read, replace or clear the fault configuration (``PUT``
  works like ``POST``, as in the Kustomer sandbox).
- ``GET /__sandbox/requests[?limit=N]``: the most recent API requests, oldest first.
- ``POST /__sandbox/seed``: ``{"<collection>": [records]}`` stores records of the resources
  Custify's API can only read (meetings, surveys and their responses, health scores, ...), so their
  listings can be tested; see ``readonly.SEEDABLE``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import readonly
from csroute.custify.sandbox.faults import FaultConfig, faults_of
from csroute.custify.sandbox.gate import ADMIN_PREFIX
from csroute.custify.sandbox.ratelimit import FixedWindowLimiter
from csroute.custify.sandbox.responses import ApiError, Record, json_object, json_response
from csroute.custify.sandbox.state import COLLECTIONS, State, state_of


def _collections(state: State) -> dict[str, dict[Any, Record]]:
    return {
        "people": state.people,
        "companies": state.companies,
        "events": state.events,
        "batches": state.batches,
        "custom_data": state.custom_data,
        **{name: state.collection(name) for name in COLLECTIONS},
    }


async def get_state(request: Request) -> Response:
    state = state_of(request)
    collections = _collections(state)
    body: Record = {
        "counts": {name: len(records) for name, records in collections.items()},
        "requests": dict(state.requests),
        "counters": dict(state.counters),
    }
    if request.query_params.get("summary", "").lower() not in ("1", "true"):
        body |= {name: list(records.values()) for name, records in collections.items()}
        body["attribute_types"] = state.attribute_types
    return json_response(body)


async def seed(request: Request) -> Response:
    """Store records of read-only resources; all or nothing, answered with the stored records."""
    body = await json_object(request)
    state = state_of(request)
    unknown = [name for name in body if name not in readonly.SEEDABLE]
    if unknown:
        raise ApiError(400, f"cannot seed {unknown[0]}: one of {', '.join(readonly.SEEDABLE)}")
    for name, records in body.items():
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ApiError(400, f"{name} must be an array of objects")
    return json_response(readonly.seed(state, body))


async def reset(request: Request) -> Response:
    app_state = request.app.state
    app_state.sandbox = State()
    app_state.webhooks.subscriptions.clear()
    limiter: FixedWindowLimiter | None = app_state.limiter
    if limiter is not None:
        limiter.reset()
    faults_of(request).configure(FaultConfig())
    log: deque[Record] = app_state.request_log
    log.clear()
    return json_response({"reset": True})


async def get_faults(request: Request) -> Response:
    faults = faults_of(request)
    config = msgspec.structs.asdict(faults.config)
    return json_response({**config, "script": faults.script, "injected": faults.injected})


async def set_faults(request: Request) -> Response:
    raw = await request.body()
    try:
        config = msgspec.json.decode(raw or b"{}", type=FaultConfig)
        faults_of(request).configure(config)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as error:
        raise ApiError(400, f"Invalid fault configuration: {error}") from None
    return await get_faults(request)


async def clear_faults(request: Request) -> Response:
    faults_of(request).configure(FaultConfig())
    return await get_faults(request)


async def get_requests(request: Request) -> Response:
    log: deque[Record] = request.app.state.request_log
    raw = request.query_params.get("limit", "")
    entries = list(log)
    if raw:
        if not raw.isdigit():
            raise ApiError(400, "limit must be a non-negative integer")
        entries = entries[-int(raw) :] if int(raw) else []
    return json_response({"requests": entries, "total": len(entries)})


ROUTES = [
    Route(f"{ADMIN_PREFIX}/state", get_state, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/reset", reset, methods=["POST"]),
    Route(f"{ADMIN_PREFIX}/faults", get_faults, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/faults", set_faults, methods=["POST", "PUT"]),
    Route(f"{ADMIN_PREFIX}/faults", clear_faults, methods=["DELETE"]),
    Route(f"{ADMIN_PREFIX}/requests", get_requests, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/seed", seed, methods=["POST"]),
]
