"""Planning a round's deliveries: which events share a request, and what waits for what.

A *unit* is one delivery: a batch request, or one event sent on its own (request after request,
when it has several). Per-user order is kept by dependencies rather than by lanes: a unit
waits only for the units holding earlier events of its own users, so one slow user holds back
nobody else, and units of different users go out in parallel.

Batches are filled across the whole round. Each event joins the first batch after its user's
previous unit that still has room. Traffic where a user's events come in runs (an SDK flushing
one user's queue) still fills batches to the brim, even where a batch may hold one event per
user, as with Custify's unordered asynchronous batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from csroute.destinations.base import Batching, Request
from csroute.events.model import LoggedEvent


class Planned(Protocol):
    """What planning reads of an item (the worker's ``Item``): its event, for the user, and the
    requests it became. Named here so that planning does not import the worker."""

    @property
    def event(self) -> LoggedEvent: ...

    @property
    def requests(self) -> Sequence[Request]: ...


T = TypeVar("T", bound=Planned)


@dataclass(eq=False, slots=True)
class Unit(Generic[T]):
    index: int
    batch: bool  # sent through the destination's batch endpoint (when it holds several items)
    items: list[T] = field(default_factory=list)
    size: int = 0  # requests in the unit
    after: list[Unit[T]] = field(default_factory=list)  # units that must finish first
    done: asyncio.Event = field(default_factory=asyncio.Event)


def batchable(item: Planned, batching: Batching) -> bool:
    """Whether an item may ride in a batch. An event that needs several requests in order
    (a Custify group: company, then person) cannot share a batch whose order the API does not
    promise; it goes alone, request after request."""
    if batching.one_per_user and len(item.requests) > 1:
        return False
    return all(batching.accepts(r) for r in item.requests)


def plan(items: Sequence[T], batching: Batching | None) -> list[Unit[T]]:
    """Units for ``items`` (in log order), each listing the units it must wait for."""
    units: list[Unit[T]] = []
    latest: dict[str, Unit[T]] = {}  # user -> the unit holding their latest item so far
    first_open = 0  # batches before this index have no room left
    for item in items:
        user = item.event.user_key
        previous = latest.get(user)
        unit: Unit[T]
        if batching is not None and batchable(item, batching):
            unit = _batch_for(units, item, previous, batching, first_open)
        else:
            unit = Unit(len(units), batch=False)
            units.append(unit)
        unit.items.append(item)
        unit.size += len(item.requests)
        if previous is not None and previous is not unit and previous not in unit.after:
            unit.after.append(previous)
        latest[user] = unit
        while first_open < len(units) and not _has_room(units[first_open], batching):
            first_open += 1
    return units


def _batch_for(
    units: list[Unit[T]], item: T, previous: Unit[T] | None, batching: Batching, first_open: int
) -> Unit[T]:
    """The first batch with room where ``item`` keeps its user's order, or a new one.

    An ordered batch (a JSON array) may take a user's next event into the same batch as the
    previous one; a one-per-user batch must come after it.
    """
    start = 0
    if previous is not None:
        same_ok = previous.batch and not batching.one_per_user
        start = previous.index if same_ok else previous.index + 1
    need = len(item.requests)
    for unit in units[max(start, first_open) :]:
        if unit.batch and unit.size + need <= batching.max_size:
            return unit
    fresh: Unit[T] = Unit(len(units), batch=True)
    units.append(fresh)
    return fresh


def _has_room(unit: Unit[T], batching: Batching | None) -> bool:
    return batching is not None and unit.batch and unit.size < batching.max_size
