"""Faults injected on demand, so that retries, backoff and deduplication can be tested for real.

A ``script`` is consumed first, one entry per API request, for exact sequences ("503, then 429,
then through"). After it, one random draw per request picks at most one of: a dropped connection,
an error status, or an injected 429. Latency is added on top. ``times`` bounds how many random
faults are injected; ``seed`` makes a run repeatable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.types import Receive

Rate = Annotated[float, msgspec.Meta(ge=0, le=1)]
Status = Annotated[int, msgspec.Meta(ge=400, le=599)]


class JobError(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A batch job that fails, unapplied: one whose payload's ``field`` equals ``value``."""

    field: str
    value: str | int | float | bool
    status: Status = 400
    message: str = "Invalid value"
    times: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Fail at most this many jobs (then apply the rest as usual); None: every one."""


class FaultConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The body of ``POST /__sandbox/faults``; every field defaults to "no fault"."""

    error_rate: Rate = 0.0
    status: Status = 500
    rate_limit_429_rate: Rate = 0.0
    drop_rate: Rate = 0.0
    # "before": the request is never applied; "after": it is applied and only the answer is lost,
    # which is the case that deduplication exists for.
    drop_phase: Literal["before", "after"] = "before"
    latency_ms: Annotated[float, msgspec.Meta(ge=0, le=60_000)] = 0.0
    batch_shuffle: bool = False
    # Batch jobs that fail with a status and message while the rest of their batch goes through.
    batch_job_errors: list[JobError] = []
    times: Annotated[int, msgspec.Meta(ge=0)] | None = None
    seed: int | None = None
    # Per request, in order: a status to answer (429 comes with the rate-limit headers), "drop"
    # (as drop_phase says), or "ok" to let one request through.
    script: list[Status | Literal["drop", "ok"]] = []


@dataclass(frozen=True)
class Injection:
    kind: Literal["drop", "error", "rate_limit"]
    status: int = 0


class Faults:
    def __init__(self) -> None:
        self.config = FaultConfig()
        self.random = random.Random()
        self.script: list[int | str] = []
        self.injected = 0
        self.drawn = 0
        self.job_errors: list[int] = []  # per batch_job_errors rule: jobs it failed

    def configure(self, config: FaultConfig) -> None:
        if config.error_rate + config.rate_limit_429_rate + config.drop_rate > 1:
            raise ValueError("error_rate + rate_limit_429_rate + drop_rate must be at most 1")
        self.config = config
        self.random = random.Random(config.seed)
        self.script = list(config.script)
        self.injected = 0
        self.drawn = 0
        self.job_errors = [0] * len(config.batch_job_errors)

    def job_error(self, payload: dict[str, object]) -> JobError | None:
        """The ``batch_job_errors`` rule that fails a job with this payload, if any."""
        for n, rule in enumerate(self.config.batch_job_errors):
            if rule.field in payload and payload[rule.field] == rule.value:
                if rule.times is not None and self.job_errors[n] >= rule.times:
                    continue
                self.job_errors[n] += 1
                self.injected += 1
                return rule
        return None

    def draw(self) -> Injection | None:
        """The fault for this request, if any."""
        if self.script:
            entry = self.script.pop(0)
            if entry == "ok":
                return None
            self.injected += 1
            if entry == "drop":
                return Injection("drop")
            assert isinstance(entry, int)
            return Injection("rate_limit", 429) if entry == 429 else Injection("error", entry)
        config = self.config
        if config.times is not None and self.drawn >= config.times:
            return None
        roll = self.random.random()
        injection = None
        if roll < config.drop_rate:
            injection = Injection("drop")
        elif roll < config.drop_rate + config.error_rate:
            injection = Injection("error", config.status)
        elif roll < config.drop_rate + config.error_rate + config.rate_limit_429_rate:
            injection = Injection("rate_limit", 429)
        if injection is not None:
            self.drawn += 1
            self.injected += 1
        return injection

    @property
    def active(self) -> bool:
        config = self.config
        rates = config.error_rate or config.rate_limit_429_rate or config.drop_rate
        return bool(self.script or rates)


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
