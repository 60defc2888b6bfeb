"""The capture itself: bounded rings of recent records and the viewers watching them.

Nothing here ever waits. A record goes into its ring (a ``deque`` with a ``maxlen``: a flood
pushes the oldest out) and is offered to each viewer's bounded queue; a viewer too slow to keep
up loses records (counted, and told), never delays the gateway or a delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from csroute.capture.mask import Masker
from csroute.capture.records import Record, delivery_record, received_record
from csroute.config import CaptureConfig, Config
from csroute.destinations.base import Request
from csroute.destinations.registry import DESTINATION_TYPES, parse_settings
from csroute.events.model import LoggedEvent, NewEvent
from csroute.router.redact import Secrets, redact, secrets_of

if TYPE_CHECKING:
    from csroute.router.sender import Attempt  # imports aiohttp, which the gateway does not need

VIEWER_QUEUE = 1000
"""Records waiting for one viewer; beyond this, that viewer misses records."""
_SAMPLE_SCALE = 10_000


class Delivering(Protocol):
    """What the capture reads from a destination's worker."""

    @property
    def name(self) -> str: ...
    @property
    def secrets(self) -> Secrets: ...


class Attempted(Protocol):
    """What the capture reads from one event in a delivery round."""

    @property
    def event(self) -> LoggedEvent: ...
    @property
    def attempts(self) -> int: ...
    @property
    def requests(self) -> list[Request]: ...


class Filter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which records a viewer wants; an empty field matches anything. ``destination`` and
    ``outcome`` match only delivery records, as an event received has neither yet."""

    source: str = ""
    destination: str = ""
    user: str = ""
    type: str = ""
    event: str = ""
    outcome: str = ""

    def may_want(self, source: str, destination: str, user: str, kind: str, outcome: str) -> bool:
        """Whether a record of these could match: checked before building it, as all but the
        event name are known without decoding the event."""
        return (
            (not self.source or source == self.source)
            and (not self.destination or destination == self.destination)
            and (not self.user or user == self.user)
            and (not self.type or kind == self.type)
            and (not self.outcome or outcome == self.outcome)
        )

    def wants(self, record: Record) -> bool:
        return (
            (not self.source or record.get("source") == self.source)
            and (not self.destination or record.get("destination") == self.destination)
            and (not self.user or record.get("user") == self.user)
            and (not self.type or record.get("type") == self.type)
            and (not self.event or record.get("event") == self.event)
            and (not self.outcome or record.get("outcome") == self.outcome)
        )


class Viewer:
    """One watcher: the records it wants, queued without ever blocking the producer."""

    def __init__(self, wants: Filter, size: int = VIEWER_QUEUE) -> None:
        self.filter = wants
        self.queue: asyncio.Queue[Record] = asyncio.Queue(size)
        self.dropped = 0
        """Records this viewer missed because it did not keep up; reset when it is told."""

    def offer(self, record: Record) -> None:
        if not self.filter.wants(record):
            return
        try:
            self.queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1

    async def next(self) -> Record:
        """The next record. Records missed while the queue was full were newer than those
        queued, so the viewer is told how many once it has caught up, with a ``dropped``
        record."""
        if self.dropped and self.queue.empty():
            dropped, self.dropped = self.dropped, 0
            return {"kind": "dropped", "at": time.time(), "count": dropped}
        return await self.queue.get()


class _Budget:
    """A token bucket: at most ``rate`` records a second (bursts of as many) for one ring."""

    __slots__ = ("closed_until", "last", "rate", "skipped", "tokens")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.last = time.monotonic()
        self.closed_until = 0.0
        """When the bucket is empty, the time its next token comes: the cheap test under a
        flood, where nearly every event is turned away."""
        self.skipped = 0
        """Records skipped since the last one kept: that one says so."""

    def available(self) -> bool:
        """Whether a record may be kept now; if not, it is counted as skipped."""
        now = time.monotonic()
        if now < self.closed_until:
            self.skipped += 1
            return False
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            self.closed_until = now + (1.0 - self.tokens) / self.rate
            self.skipped += 1
            return False
        return True


class Capture:
    """The process's live capture; ``watching`` is the one check the hot paths make.

    While somebody watches, an event is recorded only if some viewer's filter may want it, its
    user is sampled, and its ring's budget (``capture.max_per_s``) allows: so the cost of
    watching stays bounded under any load (the benchmark in docs/benchmarks.md), and a viewer
    following one user costs next to nothing.
    """

    def __init__(self, config: CaptureConfig | None = None, secrets: Sequence[str] = ()) -> None:
        self.config = config or CaptureConfig()
        self.watching = False
        self._masker = Masker(
            tuple(s for s in secrets if s), frozenset(f.lower() for f in self.config.mask_fields)
        )
        self._rings: dict[tuple[str, str], deque[Record]] = {}
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._viewers: set[Viewer] = set()
        self._threshold = round(self.config.sample_rate * _SAMPLE_SCALE)

    @classmethod
    def for_config(cls, config: Config) -> Capture:
        """A capture that masks every source's write key and every destination's secrets."""
        secrets = [s.write_key for s in config.sources]
        for d in config.destinations:
            if d.type in DESTINATION_TYPES:
                settings, problems = parse_settings(d.type, d.settings)
                if not problems:
                    secrets.extend(secrets_of(DESTINATION_TYPES[d.type], settings).values)
        return cls(config.capture, secrets)

    # -- what the gateway and the router report ------------------------------------------

    def received(self, source: str, events: Sequence[NewEvent]) -> None:
        """Events accepted (validated and committed) by the gateway."""
        key = ("source", source)
        for event in events:
            if self._admit(key, source, "", event.user_key, event.type, "received"):
                self._publish(key, received_record(source, event, self._masker))

    def settled(
        self,
        worker: Delivering,
        item: Attempted,
        outcome: str,
        attempt: Attempt | None = None,
        reason: str = "",
    ) -> None:
        """One event's outcome at a destination: delivered, sent, retrying, rejected, filtered or
        dead-lettered, with the attempt that decided it (if a request was sent)."""
        event = item.event
        key = ("destination", worker.name)
        if not self.watching or not self._admit(
            key, event.source, worker.name, event.user_key, event.type, outcome
        ):
            return
        record = delivery_record(
            worker.name,
            item.event,
            outcome,
            item.attempts + 1,
            [self._request(r, worker.secrets) for r in item.requests],
            attempt,
            reason,
            self._masker,
            self.config.body_bytes,
        )
        self._publish(key, record)

    # -- what viewers use ----------------------------------------------------------------

    @contextlib.contextmanager
    def watch(self, wants: Filter) -> Iterator[Viewer]:
        """Capture while the block runs; records come through the viewer's queue."""
        viewer = Viewer(wants)
        self._viewers.add(viewer)
        self.watching = True
        try:
            yield viewer
        finally:
            self._viewers.discard(viewer)
            self.watching = bool(self._viewers)

    def recent(self, wants: Filter) -> list[Record]:
        """The records still in the rings that ``wants`` matches, oldest first."""
        return [r for r in heapq.merge(*self._rings.values(), key=_at) if wants.wants(r)]

    # -- inside ------------------------------------------------------------------------

    def _admit(
        self,
        key: tuple[str, str],
        source: str,
        destination: str,
        user: str,
        kind: str,
        outcome: str,
    ) -> bool:
        # The budget first: under a flood, it is what turns most events away, cheapest.
        budget = self._budgets.get(key)
        if budget is None:
            budget = self._budgets[key] = _Budget(self.config.max_per_s)
        if not budget.available():
            return False
        # Sampled by user, so that a sampled user's events are all seen, at every step.
        sampled = self._threshold >= _SAMPLE_SCALE
        if not sampled and zlib.crc32(user.encode()) % _SAMPLE_SCALE >= self._threshold:
            return False
        if not any(
            v.filter.may_want(source, destination, user, kind, outcome) for v in self._viewers
        ):
            return False
        budget.tokens -= 1.0
        return True

    def _publish(self, key: tuple[str, str], record: Record) -> None:
        budget = self._budgets[key]
        if budget.skipped:
            record["skipped_before"], budget.skipped = budget.skipped, 0
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = deque(maxlen=self.config.ring_size)
        ring.append(record)
        for viewer in self._viewers:
            viewer.offer(record)

    def _request(self, request: Request, secrets: Secrets) -> dict[str, Any]:
        shown = redact(request, secrets)
        shown["headers"] = {k: self._masker.text(v) for k, v in shown["headers"].items()}
        shown["params"] = {k: self._masker.text(v) for k, v in shown["params"].items()}
        shown["body"] = self._masker.value(shown["body"])
        return shown


def _at(record: Record) -> float:
    at: float = record["at"]
    return at
