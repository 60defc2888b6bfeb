"""What a destination is.

A destination type is data plus pure functions, in the spirit of Segment's action-destinations:
a settings schema (a ``msgspec.Struct``), a ``transform`` that turns one event into the HTTP
requests to make (or a ``Rejection``), and a ``delivery`` function that tells the router what it
must know about the API (rate limit, batching, which statuses are worth retrying). Transforms do
no I/O: the router performs requests, and ``csroute transform`` runs the very same function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec

from csroute.events.model import Event

Traits = Mapping[str, Any]
"""Traits remembered from a user's earlier identify events (empty when none)."""


@dataclass(slots=True, frozen=True)
class Request:
    """One HTTP request to make. ``url`` has no query string; query parameters go in ``params``."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = None  # JSON-encodable; None sends no body

    def to_json(self) -> dict[str, Any]:
        """The stable ``csroute transform`` shape of this request."""
        return {
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "params": dict(self.params),
            "body": self.body,
        }


@dataclass(slots=True, frozen=True)
class Rejection:
    """The destination refuses this event: it is never sent, and the reason is recorded."""

    message: str
    status: int = 400


@dataclass(slots=True, frozen=True)
class RateLimit:
    """At most ``requests`` per ``per_seconds``; ``key`` names who shares the budget.

    Destinations (and API clients) that use the same API key must report the same ``key`` so
    that one limiter serves them all. Use ``mask``-free, non-reversible keys (a hash of the
    API key), since limiter keys show up in metrics.
    """

    requests: float
    per_seconds: float
    key: str


def default_retryable(status: int) -> bool:
    """Network-level retry policy shared by most APIs: timeouts, throttling, server errors."""
    return status in (408, 429) or status >= 500


@dataclass(slots=True, frozen=True)
class Batching:
    """How to merge consecutive requests to one endpoint into one request.

    ``combine`` receives requests that ``transform`` produced (already in per-user order) and
    returns one request carrying all of them. The router only batches requests for which
    ``accepts`` is true, and never more than ``max_size``.
    """

    max_size: int
    combine: Callable[[Sequence[Request]], Request]
    accepts: Callable[[Request], bool] = lambda _request: True
    one_per_user: bool = False
    """At most one request per user in a batch: for APIs that may apply a batch out of order."""


@dataclass(slots=True, frozen=True)
class JobOutcome:
    """What the API reported for one job of a batch: ``status`` None when unknown (no entry
    for it, or one that cannot be read); ``body`` the job's own report, for ``explain``."""

    status: int | None
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


UNKNOWN_JOB = JobOutcome(None)


@dataclass(slots=True, frozen=True)
class BatchReport:
    """Per-job outcomes of one batch, in job order; ``finished`` false while jobs still run."""

    finished: bool
    jobs: list[JobOutcome]


@dataclass(slots=True, frozen=True)
class BatchOutcomes:
    """How to learn the per-job outcome of a batch the API accepted without giving it.

    The router checks some accepted batches later with ``check(batch_id)``, at most one per
    ``every`` batches (plus a small burst after a check finds failed jobs), ``delay_s`` after
    the batch and before ``retention_s`` ends, when the API forgets the outcome.
    """

    batch_id: Callable[[bytes], str | None]
    """The id to check an accepted batch by, from the answer to it (None: cannot be checked)."""
    report: Callable[[bytes, int], BatchReport | None]
    """Per-job outcomes from an answer (the batch's own, or the check's) for this many jobs;
    None when the answer reports none."""
    check: Callable[[str], Request]
    every: int
    delay_s: float
    retention_s: float


@dataclass(slots=True, frozen=True)
class Delivery:
    """The API facts the router needs; derived from settings, so they may depend on them."""

    rate_limit: RateLimit | None = None
    batching: Batching | None = None
    retryable: Callable[[int], bool] = default_retryable
    explain: Callable[[int, bytes], str] | None = None
    """Turns an error response into plain words for dead letters (what the user must do)."""
    timeout_s: float = 30.0
    outcomes: BatchOutcomes | None = None
    """Set when an accepted batch's jobs may still fail: how to learn their outcome."""


S = TypeVar("S", bound=msgspec.Struct)


@dataclass(slots=True, frozen=True)
class UserDeletion(Generic[S]):
    """How a destination deletes a user (right-to-be-forgotten and regulation requests)."""

    requests: Callable[[str, S], list[Request]]
    """The requests that delete a user id; raise ValueError when they cannot be made."""
    error: Callable[[int, bytes], str | None]
    """None when a response means the user is gone (404 usually counts), else the error."""


@dataclass(slots=True, frozen=True)
class DestinationType(Generic[S]):
    """A destination type: ``type: <name>`` in the configuration selects it."""

    name: str
    settings: type[S]
    transform: Callable[[Event, S, Traits], list[Request] | Rejection]
    delivery: Callable[[S], Delivery]
    remembers_traits: bool = False
    """When true, the router remembers identify traits per user and passes them to transform."""
    secret_settings: frozenset[str] = frozenset()
    """Setting names whose values are secrets: masked wherever configuration is printed."""
    check: Callable[[S], list[str]] = lambda _settings: []
    """Extra configuration checks beyond the schema: each string is one problem, naming the key."""
    deletion: UserDeletion[S] | None = None
    """Set when the destination's API can delete a user."""
    no_deletion: str = "this destination has no API to delete a user: delete them at the receiver"
    """Without ``deletion``: why the user cannot be deleted from here, and what to do instead
    (``csroute forget`` tells the operator)."""
