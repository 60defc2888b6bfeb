"""Inspection and control under ``/__sandbox``, a prefix no Custify path uses. These endpoints need
no API key and do not count against the rate limit, so tests can look without disturbing.

- ``GET /__sandbox/state[?summary=true]``: every record, the attribute type locks and the counters.
- ``POST /__sandbox/reset``: forget all records, counters, rate-limit windows, the request log and
  the faults.
- ``GET|POST|DELETE /__sandbox/faults``: read, replace or clear the fault configuration (``PUT``
  works like ``POST``, as in the Kustomer sandbox).
- ``GET /__sandbox/requests[?limit=N]``: the most recent API requests, oldest first.
"""

from __future__ import annotations

from collections import deque

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox.faults import FaultConfig, faults_of
from csroute.custify.sandbox.gate import ADMIN_PREFIX
from csroute.custify.sandbox.ratelimit import FixedWindowLimiter
from csroute.custify.sandbox.responses import ApiError, Record, json_response
from csroute.custify.sandbox.state import State, state_of


def _counts(state: State) -> Record:
    return {
        "people": len(state.people),
        "companies": len(state.companies),
        "events": len(state.events),
        "batches": len(state.batches),
        "custom_data": len(state.custom_data),
    }


async def get_state(request: Request) -> Response:
    state = state_of(request)
    body: Record = {
        "counts": _counts(state),
        "requests": dict(state.requests),
        "counters": dict(state.counters),
    }
    if request.query_params.get("summary", "").lower() not in ("1", "true"):
        body |= {
            "people": list(state.people.values()),
            "companies": list(state.companies.values()),
            "events": list(state.events.values()),
            "batches": list(state.batches.values()),
            "custom_data": list(state.custom_data.values()),
            "attribute_types": state.attribute_types,
        }
    return json_response(body)


async def reset(request: Request) -> Response:
    app_state = request.app.state
    app_state.sandbox = State()
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
]
