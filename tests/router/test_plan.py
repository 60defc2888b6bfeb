"""Planning deliveries: batches filled across a round, order kept by dependencies."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from csroute.destinations.base import Batching, Request
from csroute.events.model import LoggedEvent
from csroute.router.plan import Unit, plan
from csroute.router.worker import Item

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)

REQUEST = Request("POST", "http://127.0.0.1:9/x")


def items(users: Sequence[str], requests: int = 1) -> list[Item]:
    return [
        Item(LoggedEvent(seq, "web", user, "track", b"{}"), requests=[REQUEST] * requests)
        for seq, user in enumerate(users, 1)
    ]


def layout(units: list[Unit]) -> list[list[int]]:
    return [[i.event.seq for i in u.items] for u in units]


def combine(requests: Sequence[Request]) -> Request:
    return REQUEST


def test_runs_of_one_users_events_still_fill_one_per_user_batches() -> None:
    # Three users, three events each, in runs (an SDK flushing each user's queue).
    units = plan(items("aaabbbccc"), Batching(3, combine, one_per_user=True))
    assert layout(units) == [[1, 4, 7], [2, 5, 8], [3, 6, 9]]
    assert all(u.batch for u in units)
    assert [[d.index for d in u.after] for u in units] == [[], [0], [1]]


def test_batches_are_filled_to_the_limit_before_new_ones_open() -> None:
    units = plan(items("abcdefg"), Batching(3, combine, one_per_user=True))
    assert layout(units) == [[1, 2, 3], [4, 5, 6], [7]]
    assert all(u.after == [] for u in units)  # no user repeats: nothing waits


def test_an_ordered_batch_takes_a_users_next_event_too() -> None:
    units = plan(items("aab"), Batching(10, combine))  # e.g. a webhook JSON array
    assert layout(units) == [[1, 2, 3]]


def test_an_event_of_several_requests_goes_alone_and_orders_the_users_next_events() -> None:
    listed = items("ab") + items("a", requests=2) + items("a")
    for seq, item in enumerate(listed, 1):
        item.event = LoggedEvent(seq, "web", item.event.user_key, "track", b"{}")
    units = plan(listed, Batching(5, combine, one_per_user=True))
    assert layout(units) == [[1, 2], [3], [4]]
    assert [u.batch for u in units] == [True, False, True]
    assert units[1].after == [units[0]] and units[2].after == [units[1]]


def test_without_batching_each_event_waits_only_for_its_own_user() -> None:
    units = plan(items("abab"), None)
    assert layout(units) == [[1], [2], [3], [4]]
    assert [[d.index for d in u.after] for u in units] == [[], [], [0], [1]]
