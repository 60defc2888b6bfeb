"""Faults injected on demand, so that retries, backoff and deduplication can be tested for real.

One random draw per API request picks at most one of: a dropped connection, an error status, or an
injected 429. Latency is added on top. ``times`` bounds how many requests are faulted, which makes
"fail the next three calls" possible; ``seed`` makes a run repeatable.
"""

from __future__ import annotations

import random
from typing import Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.types import Receive

Rate = Annotated[float, msgspec.Meta(ge=0, le=1)]


class FaultConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The body of ``POST /__sandbox/faults``; every field defaults to "no fault"."""

    error_rate: Rate = 0.0
    status: Annotated[int, msgspec.Meta(ge=400, le=599)] = 500
    rate_limit_429_rate: Rate = 0.0
    drop_rate: Rate = 0.0
    # "before": the request is never applied; "after": it is applied and only the answer is lost,
    # which is the case that deduplication exists for.
    drop_phase: Literal["before", "after"] = "before"
    latency_ms: Annotated[float, msgspec.Meta(ge=0, le=60_000)] = 0.0
    batch_shuffle: bool = False
    times: Annotated[int, msgspec.Meta(ge=0)] | None = None
    seed: int | None = None


Fault = Literal["drop", "error", "rate_limit"]


class Faults:
    def __init__(self) -> None:
        self.config = FaultConfig()
        self.random = random.Random()
        self.injected = 0

    def configure(self, config: FaultConfig) -> None:
        if config.error_rate + config.rate_limit_429_rate + config.drop_rate > 1:
            raise ValueError("error_rate + rate_limit_429_rate + drop_rate must be at most 1")
        self.config = config
        self.random = random.Random(config.seed)
        self.injected = 0

    def draw(self) -> Fault | None:
        """The fault for this request, if any."""
        config = self.config
        if config.times is not None and self.injected >= config.times:
            return None
        roll = self.random.random()
        fault: Fault | None = None
        if roll < config.drop_rate:
            fault = "drop"
        elif roll < config.drop_rate + config.error_rate:
            fault = "error"
        elif roll < config.drop_rate + config.error_rate + config.rate_limit_429_rate:
            fault = "rate_limit"
        if fault is not None:
            self.injected += 1
        return fault

    @property
    def active(self) -> bool:
        config = self.config
        return bool(config.error_rate or config.rate_limit_429_rate or config.drop_rate)


def faults_of(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


class ConnectionDropUnsupported(RuntimeError):
    """The ASGI server gave no way to abort the connection."""


async def drop_connection(receive: Receive) -> None:
    """Abort the TCP connection so the client sees a reset with no response at all.

    ASGI has no "abort" message: an app that sends nothing gets a 500 from uvicorn. uvicorn's
    ``receive`` is a method of its request cycle, which holds the transport, so the transport is
    aborted directly; then the app waits for the disconnect, so uvicorn writes nothing. Other
    servers raise ``ConnectionDropUnsupported`` (the server then answers 500 or closes).
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)
    if not callable(abort):
        raise ConnectionDropUnsupported("this ASGI server cannot drop connections")
    abort()
    while (await receive())["type"] != "http.disconnect":
        pass
