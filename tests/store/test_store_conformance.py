"""The store conformance suite: what every backend must do, written against ``Store`` only.

Each test runs once per backend listed in ``conftest.BACKENDS``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from csroute.events.model import LoggedEvent, NewEvent
from csroute.store.base import (
    DeadLetter,
    Page,
    PendingEvent,
    Retry,
    Round,
    SentBatch,
    SentJob,
    StepRecord,
    Store,
    TriggerCursor,
)

NOW = 1_700_000_000.0
PROBE = "probe"  # a destination that only ever reads, to learn the seqs of what was appended


def new(user: str, n: int, source: str = "web") -> NewEvent:
    payload = json.dumps({"type": "track", "userId": user, "n": n}).encode()
    return NewEvent(source=source, user_key=user, type="track", payload=payload)


async def logged(store: Store, events: Sequence[NewEvent]) -> list[LoggedEvent]:
    """Append ``events`` and return them as logged (the log must be empty of their sources)."""
    await store.append(events)
    page = await store.read_new(PROBE, {e.source for e in events}, 10_000)
    return page.events[-len(events) :]


def retry(e: LoggedEvent, next_at: float, attempts: int = 1) -> Retry:
    return Retry(e.seq, e.user_key, attempts, next_at, first_failed_at=NOW, error="503")


def dead(e: LoggedEvent, error: str = "gave up") -> DeadLetter:
    return DeadLetter(e.seq, e.user_key, attempts=3, error=error, status=503, response=b"busy")


def seqs(pending: list[PendingEvent]) -> list[int]:
    return [p.event.seq for p in pending]


# -- the log ----------------------------------------------------------------------------------


async def test_events_come_back_in_append_order_with_their_fields(store: Store) -> None:
    events = [new("u1", 1), new("u2", 2), new("u1", 3)]
    await store.append(events[:2])
    await store.append(events[2:])

    page = await store.read_new("d", {"web"}, 10)

    assert [(e.source, e.user_key, e.type, e.payload) for e in page.events] == [
        (e.source, e.user_key, e.type, e.payload) for e in events
    ]
    assert [e.seq for e in page.events] == sorted({e.seq for e in page.events})


async def test_read_new_returns_only_the_sources_asked_for(store: Store) -> None:
    await store.append([new("u", 1, "web"), new("u", 2, "ios"), new("u", 3, "server")])
    await store.append([new("u", 4, "ios"), new("u", 5, "web")])

    page = await store.read_new("d", ["web", "ios"], 10)

    assert [json.loads(e.payload)["n"] for e in page.events] == [1, 2, 4, 5]
    assert (await store.read_new("d", [], 10)).events == []


async def test_appending_nothing_is_allowed(store: Store) -> None:
    await store.append([])

    assert (await store.read_new("d", {"web"}, 10)).events == []


async def test_a_full_page_ends_at_its_last_event(store: Store) -> None:
    events = await logged(store, [new("u", n) for n in range(5)])

    page = await store.read_new("d", {"web"}, 3)

    assert page.events == events[:3]
    assert page.cursor == events[2].seq


async def test_a_short_page_ends_at_the_end_of_the_log(store: Store) -> None:
    await store.append([new("u", 1, "web"), new("u", 2, "ios"), new("u", 3, "ios")])
    end = (await store.read_new(PROBE, {"ios"}, 10)).cursor

    page = await store.read_new("d", {"web"}, 10)

    assert len(page.events) == 1
    assert page.cursor == end  # past the other source's events too: nothing left to read
    assert (await store.read_new("d", {"web"}, 10)).cursor == end


async def test_an_empty_store_reads_nothing_at_cursor_zero(store: Store) -> None:
    assert await store.read_new("d", {"web"}, 10) == Page(events=[], cursor=0)


async def test_reading_does_not_move_the_cursor_but_recording_does(store: Store) -> None:
    events = await logged(store, [new("u", n) for n in range(4)])
    first = await store.read_new("d", {"web"}, 2)
    assert (await store.read_new("d", {"web"}, 2)) == first

    await store.record(
        Round("d", NOW, cursor=first.cursor, delivered=[e.seq for e in first.events])
    )

    second = await store.read_new("d", {"web"}, 10)
    assert second.events == events[2:]


async def test_reading_ahead_of_the_cursor_starts_after_the_seq_given(store: Store) -> None:
    events = await logged(store, [new("u", n) for n in range(5)])
    first = await store.read_new("d", {"web"}, 2)

    ahead = await store.read_new("d", {"web"}, 2, after=first.cursor)
    rest = await store.read_new("d", {"web"}, 10, after=ahead.cursor)

    assert ahead.events == events[2:4] and ahead.cursor == events[3].seq
    assert rest.events == events[4:] and rest.cursor == events[4].seq
    assert await store.read_new("d", {"web"}, 2) == first  # the cursor itself has not moved


# -- rounds -----------------------------------------------------------------------------------


async def test_a_round_commits_every_outcome_together(store: Store) -> None:
    e = await logged(store, [new("a", 1), new("b", 2), new("c", 3), new("d", 4), new("e", 5)])

    still = await store.record(
        Round(
            "dest",
            NOW,
            cursor=e[-1].seq,
            delivered=[e[0].seq],
            filtered=[(e[1].seq, "consent")],
            rejected=[(e[2].seq, "no email")],
            retry=[retry(e[3], NOW + 60)],
            dead=[dead(e[4])],
            traits={"a": b'{"plan":"pro"}'},
        )
    )

    assert still == {"d"}
    assert (await store.read_new("dest", {"web"}, 10)).events == []
    stats = await store.stats("dest", {"web"})
    assert (stats.delivered, stats.filtered, stats.rejected, stats.dead) == (1, 1, 1, 1)
    assert (stats.retrying, stats.held, stats.backlog) == (1, 0, 0)
    assert await store.blocked_users("dest") == {"d"}
    assert await store.traits("dest", ["a"]) == {"a": b'{"plan":"pro"}'}
    assert [d.seq for d in await store.dead_letters("dest")] == [e[4].seq]


async def test_a_round_that_fails_leaves_nothing_behind(store: Store) -> None:
    e = await logged(store, [new("a", 1), new("b", 2)])
    poisoned = Round(
        "dest",
        NOW,
        cursor=e[1].seq,
        delivered=[e[0].seq],
        retry=[retry(e[1], NOW)],
        traits={"a": object()},  # type: ignore[dict-item]
    )

    with pytest.raises(Exception):  # noqa: B017 - each backend fails in its driver's own way
        await store.record(poisoned)

    assert (await store.read_new("dest", {"web"}, 10)).events == e
    assert await store.blocked_users("dest") == set()
    stats = await store.stats("dest", {"web"})
    assert (stats.delivered, stats.retrying, stats.backlog) == (0, 0, 2)
    await store.record(Round("dest", NOW, cursor=e[1].seq, delivered=[e[0].seq, e[1].seq]))
    assert (await store.stats("dest", {"web"})).delivered == 2


async def test_a_retry_is_due_once_its_time_has_come(store: Store) -> None:
    (e,) = await logged(store, [new("u", 1)])

    assert await store.record(Round("d", NOW, cursor=e.seq, retry=[retry(e, NOW + 60)])) == {"u"}

    assert await store.due("d", NOW + 59, 10) == []
    (due,) = await store.due("d", NOW + 60, 10)
    assert (due.event, due.attempts, due.first_failed_at) == (e, 1, NOW)
    assert await store.blocked_users("d") == {"u"}


async def test_a_retry_can_be_rescheduled_and_then_delivered(store: Store) -> None:
    (e,) = await logged(store, [new("u", 1)])
    await store.record(Round("d", NOW, cursor=e.seq, retry=[retry(e, NOW)]))

    await store.record(Round("d", NOW + 1, retry=[retry(e, NOW + 100, attempts=2)]))
    assert await store.due("d", NOW + 99, 10) == []
    assert [p.attempts for p in await store.due("d", NOW + 100, 10)] == [2]

    assert await store.record(Round("d", NOW + 100, delivered=[e.seq])) == set()
    assert await store.due("d", NOW + 1000, 10) == []
    assert await store.blocked_users("d") == set()
    assert (await store.stats("d", {"web"})).delivered == 1


async def test_held_events_wait_behind_their_head_and_follow_it(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("u", 2), new("u", 3)])
    await store.record(
        Round(
            "d",
            NOW,
            cursor=e[2].seq,
            retry=[retry(e[0], NOW + 60)],
            held=[(e[1].seq, "u"), (e[2].seq, "u")],
        )
    )

    assert await store.due("d", NOW + 59, 10) == []  # held events are never due on their own
    run = await store.due("d", NOW + 60, 10)
    assert seqs(run) == [x.seq for x in e]
    assert [(p.attempts, p.first_failed_at) for p in run[1:]] == [(0, None), (0, None)]
    stats = await store.stats("d", {"web"})
    assert (stats.retrying, stats.held) == (1, 2)


async def test_when_the_head_is_delivered_the_next_held_event_is_due_at_once(
    store: Store,
) -> None:
    e = await logged(store, [new("u", 1), new("u", 2), new("u", 3)])
    await store.record(
        Round(
            "d",
            NOW,
            cursor=e[2].seq,
            retry=[retry(e[0], NOW)],
            held=[(e[1].seq, "u"), (e[2].seq, "u")],
        )
    )

    assert await store.record(Round("d", NOW + 5, delivered=[e[0].seq])) == {"u"}

    assert await store.due("d", NOW + 4, 10) == []
    assert seqs(await store.due("d", NOW + 5, 10)) == [e[1].seq, e[2].seq]
    stats = await store.stats("d", {"web"})
    assert (stats.retrying, stats.held) == (1, 1)


async def test_when_the_head_is_dead_lettered_the_next_held_event_takes_its_place(
    store: Store,
) -> None:
    e = await logged(store, [new("u", 1), new("u", 2), new("v", 3)])
    await store.record(
        Round(
            "d",
            NOW,
            cursor=e[2].seq,
            retry=[retry(e[0], NOW), retry(e[2], NOW)],
            held=[(e[1].seq, "u")],
        )
    )

    assert await store.record(Round("d", NOW + 5, dead=[dead(e[0])])) == {"u"}

    assert seqs(await store.due("d", NOW + 5, 10)) == [e[2].seq, e[1].seq]
    assert await store.record(Round("d", NOW + 6, delivered=[e[1].seq, e[2].seq])) == set()
    assert await store.blocked_users("d") == set()


async def test_a_held_event_that_fails_again_keeps_the_user_blocked(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("u", 2), new("u", 3)])
    await store.record(
        Round(
            "d",
            NOW,
            cursor=e[2].seq,
            retry=[retry(e[0], NOW)],
            held=[(e[1].seq, "u"), (e[2].seq, "u")],
        )
    )

    # The head goes through, the next one fails: it becomes the head, the last stays held.
    await store.record(Round("d", NOW + 1, delivered=[e[0].seq], retry=[retry(e[1], NOW + 30)]))

    assert await store.due("d", NOW + 29, 10) == []
    run = await store.due("d", NOW + 30, 10)
    assert seqs(run) == [e[1].seq, e[2].seq]
    assert (run[0].attempts, run[1].attempts) == (1, 0)


async def test_due_orders_heads_by_time_and_never_splits_a_run_from_its_head(
    store: Store,
) -> None:
    a = await logged(store, [new("a", n) for n in range(4)])
    b = await logged(store, [new("b", n) for n in range(2)])
    c = await logged(store, [new("c", 0)])
    await store.record(
        Round(
            "d",
            NOW,
            cursor=c[0].seq,
            retry=[retry(a[0], NOW + 20), retry(b[0], NOW + 10), retry(c[0], NOW + 30)],
            held=[(x.seq, "a") for x in a[1:]] + [(b[1].seq, "b")],
        )
    )

    everything = await store.due("d", NOW + 30, 100)
    assert seqs(everything) == [x.seq for x in b + a + c]

    for limit in range(1, 8):
        got = seqs(await store.due("d", NOW + 30, limit))
        assert 0 < len(got) <= limit
        # Whatever is returned is a prefix of the full answer: heads in order, runs from their
        # head on, never a held event without the head in front of it.
        assert got == seqs(everything)[: len(got)]
        assert got[0] == b[0].seq


async def test_blocked_users_are_the_users_with_pending_events(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("v", 2), new("w", 3)])
    await store.record(
        Round(
            "d",
            NOW,
            cursor=e[2].seq,
            retry=[retry(e[0], NOW)],
            delivered=[e[1].seq],
            held=[(e[2].seq, "w")],
        )
    )

    assert await store.blocked_users("d") == {"u", "w"}
    assert await store.blocked_users("other") == set()


# -- traits -----------------------------------------------------------------------------------


async def test_traits_are_upserted_per_destination_and_user(store: Store) -> None:
    await store.record(Round("d", NOW, traits={"u": b'{"a":1}', "v": b'{"b":2}'}))
    await store.record(Round("d", NOW, traits={"u": b'{"a":1,"c":3}'}))
    await store.record(Round("other", NOW, traits={"u": b'{"x":0}'}))

    assert await store.traits("d", ["u", "v", "nobody"]) == {
        "u": b'{"a":1,"c":3}',
        "v": b'{"b":2}',
    }
    assert await store.traits("other", {"u", "v"}) == {"u": b'{"x":0}'}
    assert await store.traits("d", []) == {}


# -- dead letters -----------------------------------------------------------------------------


async def test_dead_letters_keep_the_evidence_and_the_event(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("v", 2)])
    letter = DeadLetter(
        e[0].seq,
        "u",
        attempts=3,
        error="HTTP 500",
        request=b'{"req":1}',
        status=500,
        response=b"oops",
    )
    await store.record(Round("d", NOW, cursor=e[1].seq, dead=[letter, dead(e[1], "HTTP 400")]))

    listed = await store.dead_letters("d")

    assert [(x.seq, x.user_key, x.error) for x in listed] == [
        (e[0].seq, "u", "HTTP 500"),
        (e[1].seq, "v", "HTTP 400"),
    ]
    first = listed[0]
    assert (first.attempts, first.request, first.status, first.response) == (
        3,
        b'{"req":1}',
        500,
        b"oops",
    )
    assert (first.destination, first.created_at, first.payload) == ("d", NOW, e[0].payload)
    assert first.id > 0 and listed[1].id > first.id
    assert await store.dead_letter(first.id) == first
    assert await store.dead_letter(listed[1].id + 1000) is None


async def test_dead_letters_page_by_id_and_filter_by_destination(store: Store) -> None:
    e = await logged(store, [new("u", n) for n in range(5)])
    await store.record(Round("d1", NOW, dead=[dead(x) for x in e[:3]]))
    await store.record(Round("d2", NOW, dead=[dead(x) for x in e[3:]]))

    everything = await store.dead_letters()
    assert [x.destination for x in everything] == ["d1"] * 3 + ["d2"] * 2
    page1 = await store.dead_letters("d1", limit=2)
    page2 = await store.dead_letters("d1", after_id=page1[-1].id, limit=2)
    assert [x.seq for x in page1 + page2] == [x.seq for x in e[:3]]
    assert [x.seq for x in await store.dead_letters("d2")] == [x.seq for x in e[3:]]
    assert await store.dead_letters(after_id=everything[-1].id) == []


async def test_replayed_dead_letters_come_back_due_with_attempts_reset(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("v", 2)])
    await store.record(Round("d", NOW, cursor=e[1].seq, dead=[dead(e[0]), dead(e[1])]))
    first, second = await store.dead_letters("d")

    assert await store.replay([first.id, first.id + 1000], NOW + 10) == 1

    assert await store.due("d", NOW + 9, 10) == []
    (due,) = await store.due("d", NOW + 10, 10)
    assert (due.event, due.attempts) == (e[0], 0)
    assert await store.blocked_users("d") == {"u"}
    assert await store.dead_letters("d") == [second]
    assert await store.record(Round("d", NOW + 10, delivered=[e[0].seq])) == set()
    assert await store.due("d", NOW + 1000, 10) == []


async def test_a_replayed_event_older_than_the_users_head_goes_first(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("u", 2)])
    await store.record(
        Round("d", NOW, cursor=e[1].seq, dead=[dead(e[0])], retry=[retry(e[1], NOW + 500)])
    )
    (letter,) = await store.dead_letters("d")

    await store.replay([letter.id], NOW + 10)

    run = await store.due("d", NOW + 10, 10)
    assert seqs(run) == [e[0].seq, e[1].seq]
    stats = await store.stats("d", {"web"})
    assert (stats.retrying, stats.held) == (1, 1)


async def test_a_replayed_event_newer_than_the_users_head_waits_behind_it(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("u", 2)])
    await store.record(
        Round("d", NOW, cursor=e[1].seq, retry=[retry(e[0], NOW + 500)], dead=[dead(e[1])])
    )
    (letter,) = await store.dead_letters("d")

    await store.replay([letter.id], NOW + 10)

    assert await store.due("d", NOW + 10, 10) == []
    assert seqs(await store.due("d", NOW + 500, 10)) == [e[0].seq, e[1].seq]


async def test_discarded_dead_letters_are_gone(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("v", 2)])
    await store.record(Round("d", NOW, cursor=e[1].seq, dead=[dead(e[0]), dead(e[1])]))
    first, second = await store.dead_letters("d")

    assert await store.discard([first.id]) == 1
    assert await store.discard([first.id]) == 0

    assert await store.dead_letters() == [second]
    assert await store.dead_letter(first.id) is None
    assert await store.replay([first.id], NOW) == 0
    assert await store.due("d", NOW, 10) == []


# -- reporting --------------------------------------------------------------------------------


async def test_stats_add_up_across_rounds(store: Store) -> None:
    e = await logged(store, [new("u", n) for n in range(8)] + [new("u", 99, "ios")])
    await store.record(
        Round(
            "d",
            NOW,
            cursor=e[4].seq,
            delivered=[e[0].seq],
            filtered=[(e[1].seq, "consent"), (e[2].seq, "event_denied")],
            rejected=[(e[3].seq, "no email")],
            retry=[retry(e[4], NOW + 60)],
        )
    )
    await store.record(
        Round(
            "d",
            NOW,
            cursor=e[6].seq,
            delivered=[e[5].seq],
            filtered=[(e[6].seq, "consent")],
        )
    )

    stats = await store.stats("d", {"web"})

    assert (stats.delivered, stats.filtered, stats.rejected, stats.dead) == (2, 3, 1, 0)
    assert dict(stats.filtered_by_reason) == {"consent": 2, "event_denied": 1}
    assert (stats.retrying, stats.held, stats.backlog) == (1, 0, 1)
    assert (await store.stats("d", {"web", "ios"})).backlog == 2
    fresh = await store.stats("new", {"web", "ios"})
    assert (fresh.delivered, fresh.retrying, fresh.backlog) == (0, 0, len(e))
    assert dict(fresh.filtered_by_reason) == {}


async def test_destinations_do_not_share_any_state(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("u", 2)])

    await store.record(
        Round("d1", NOW, cursor=e[1].seq, delivered=[e[1].seq], retry=[retry(e[0], NOW)])
    )
    await store.record(Round("d2", NOW, cursor=e[0].seq, dead=[dead(e[0])], traits={"u": b"{}"}))

    assert (await store.read_new("d1", {"web"}, 10)).events == []
    assert (await store.read_new("d2", {"web"}, 10)).events == [e[1]]
    assert seqs(await store.due("d1", NOW, 10)) == [e[0].seq]
    assert await store.due("d2", NOW, 10) == []
    assert await store.blocked_users("d2") == set()
    assert await store.traits("d1", ["u"]) == {}
    assert await store.dead_letters("d1") == []
    s1, s2 = await store.stats("d1", {"web"}), await store.stats("d2", {"web"})
    assert (s1.delivered, s1.dead, s1.retrying, s1.backlog) == (1, 0, 1, 0)
    assert (s2.delivered, s2.dead, s2.retrying, s2.backlog) == (0, 1, 0, 1)


async def test_a_healthy_store_answers_ping(store: Store) -> None:
    await store.ping()


# -- retention --------------------------------------------------------------------------------


async def test_prune_deletes_only_what_every_destination_has_taken(store: Store) -> None:
    e = await logged(store, [new("u", n) for n in range(6)])
    await store.record(Round("d1", NOW, cursor=e[3].seq))
    await store.record(Round("d2", NOW, cursor=e[1].seq))

    assert await store.prune(["d1", "d2"]) == 2

    assert (await store.read_new("d2", {"web"}, 10)).events == e[2:]
    assert (await store.read_new("new", {"web"}, 10)).events == e[2:]
    assert await store.prune(["d1", "d2"]) == 0
    assert await store.prune(["d1", "d2", "never-read"]) == 0
    assert await store.prune([]) == 0


async def test_prune_keeps_events_that_are_pending_or_dead(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("u", 2), new("v", 3), new("w", 4)])
    await store.record(
        Round(
            "d",
            NOW,
            cursor=e[3].seq,
            retry=[retry(e[0], NOW)],
            held=[(e[1].seq, "u")],
            dead=[dead(e[2])],
            delivered=[e[3].seq],
        )
    )

    assert await store.prune(["d"]) == 1

    assert [p.event for p in await store.due("d", NOW, 10)] == e[:2]
    (letter,) = await store.dead_letters("d")
    assert letter.payload == e[2].payload
    await store.replay([letter.id], NOW)
    await store.record(Round("d", NOW, delivered=[x.seq for x in e[:3]]))
    assert await store.prune(["d"]) == 3


async def test_seqs_never_go_back_after_the_newest_events_are_pruned(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("u", 2)])
    await store.record(Round("d", NOW, cursor=e[1].seq, delivered=[x.seq for x in e]))
    assert await store.prune(["d"]) == 2

    await store.append([new("u", 3)])

    (later,) = (await store.read_new("d", {"web"}, 10)).events
    assert later.seq > e[1].seq
    assert json.loads(later.payload)["n"] == 3


# -- user deletion ----------------------------------------------------------------------------


async def test_forgetting_a_user_drops_their_queue_dead_letters_and_traits(store: Store) -> None:
    a0, b0, a1, a2, a3 = await logged(
        store, [new("a", 0), new("b", 0), new("a", 1), new("a", 2), new("a", 3)]
    )
    await store.record(
        Round(
            "d",
            NOW,
            cursor=a2.seq,
            retry=[retry(a1, NOW)],
            held=[(a2.seq, "a")],
            dead=[dead(a0)],
            delivered=[b0.seq],
            traits={"a": b'{"email":"a@x"}', "b": b"{}"},
        )
    )
    await store.record(Round("other", NOW, retry=[retry(a1, NOW)]))

    assert await store.forget("d", "a", NOW) == 2

    assert await store.forgotten("d") == {"a": a3.seq}
    assert await store.forgotten("other") == {}
    assert await store.due("d", NOW + 10, 100) == []
    assert await store.blocked_users("d") == set()
    assert await store.dead_letters("d") == []
    assert await store.traits("d", ["a", "b"]) == {"b": b"{}"}
    stats = await store.stats("d", {"web"})
    assert stats.filtered_by_reason == {"forgotten: user deletion requested": 2}
    assert seqs(await store.due("other", NOW + 10, 100)) == [a1.seq]  # other destination intact


async def test_forgetting_again_moves_the_mark_to_the_end_of_the_log(store: Store) -> None:
    (first,) = await logged(store, [new("a", 0)])
    assert await store.forget("d", "a", NOW) == 0
    assert await store.forgotten("d") == {"a": first.seq}
    (later,) = await logged(store, [new("a", 1)])
    assert await store.forget("d", "a", NOW + 1) == 0
    assert await store.forgotten("d") == {"a": later.seq}


async def test_rejections_are_counted_by_reason(store: Store) -> None:
    a, b, c = await logged(store, [new("u", 0), new("u", 1), new("u", 2)])
    await store.record(
        Round(
            "d",
            NOW,
            cursor=c.seq,
            rejected=[
                (a.seq, "Message type not supported"),
                (b.seq, "Message type not supported"),
                (c.seq, "Email or userId is mandatory"),
            ],
        )
    )
    stats = await store.stats("d", {"web"})
    assert stats.rejected == 3
    assert stats.rejected_by_reason == {
        "Message type not supported": 2,
        "Email or userId is mandatory": 1,
    }


async def test_prune_keeps_what_was_received_within_the_retention(store: Store) -> None:
    import time

    await logged(store, [new("u", 0)])
    cutoff = time.time()
    (recent,) = await logged(store, [new("u", 1)])
    await store.record(Round("d", NOW, cursor=recent.seq))

    assert await store.prune(["d"], received_before=cutoff) == 1
    page = await store.read_new("fresh", {"web"}, 10)
    assert [e.seq for e in page.events] == [recent.seq]
    assert await store.prune(["d"], received_before=time.time() + 60) == 1
    assert (await store.read_new("fresh2", {"web"}, 10)).events == []


async def test_retrying_and_dead_events_are_counted_by_error(store: Store) -> None:
    a, b, c, d = await logged(store, [new("u1", 0), new("u2", 0), new("u3", 0), new("u4", 0)])
    down = "HTTP 503: the API is down"
    await store.record(
        Round(
            "d",
            NOW,
            cursor=d.seq,
            retry=[
                Retry(a.seq, "u1", 1, NOW + 60, NOW, down),
                Retry(b.seq, "u2", 1, NOW + 60, NOW, down),
                Retry(c.seq, "u3", 1, NOW + 60, NOW, "timed out after 10s"),
            ],
            dead=[DeadLetter(d.seq, "u4", 1, "HTTP 400: bad email", status=400)],
        )
    )
    stats = await store.stats("d", {"web"})
    assert list(stats.retrying_by_error.items()) == [(down, 2), ("timed out after 10s", 1)]
    assert stats.dead_by_error == {"HTTP 400: bad email": 1}
    assert (await store.stats("other", {"web"})).retrying_by_error == {}


# -- Custify trigger cursors ------------------------------------------------------------------


async def test_a_trigger_cursor_is_saved_per_scope_and_survives_updates(store: Store) -> None:
    assert await store.trigger_cursors("t") == {}
    await store.save_trigger_cursor("t", "", TriggerCursor("2026-01-01T00:00:00.000Z", ("a",)))
    await store.save_trigger_cursor("t", "company:c1", TriggerCursor(""))
    await store.save_trigger_cursor("t", "", TriggerCursor("2026-01-02T00:00:00.000Z", ("b", "c")))
    await store.save_trigger_cursor("other", "", TriggerCursor("2025-01-01T00:00:00.000Z"))

    assert await store.trigger_cursors("t") == {
        "": TriggerCursor("2026-01-02T00:00:00.000Z", ("b", "c")),
        "company:c1": TriggerCursor(""),
    }


async def test_resetting_a_trigger_forgets_its_cursors_and_marks_only(store: Store) -> None:
    await store.save_trigger_cursor("t", "", TriggerCursor("x", ("a",)))
    await store.save_trigger_cursor("t", "s", TriggerCursor("y"))
    await store.save_trigger_cursor("u", "", TriggerCursor("z"))
    await store.mark_handed_on("t", ["k1"], NOW, keep_s=3600)
    await store.mark_handed_on("u", ["k1"], NOW, keep_s=3600)

    assert await store.reset_trigger("t") == 2

    assert await store.trigger_cursors("t") == {}
    assert await store.handed_on("t", ["k1"]) == set()
    assert await store.trigger_cursors("u") == {"": TriggerCursor("z")}
    assert await store.handed_on("u", ["k1"]) == {"k1"}


async def test_handed_on_records_are_remembered_per_trigger_until_they_expire(
    store: Store,
) -> None:
    assert await store.handed_on("t", []) == set()
    await store.mark_handed_on("t", ["k1", "k2"], NOW, keep_s=100)
    await store.mark_handed_on("t", ["k2"], NOW + 50, keep_s=100)  # k2 refreshed

    assert await store.handed_on("t", ["k1", "k2", "k3"]) == {"k1", "k2"}
    assert await store.handed_on("other", ["k1"]) == set()

    await store.mark_handed_on("t", ["k3"], NOW + 120, keep_s=100)  # k1 is now too old

    assert await store.handed_on("t", ["k1", "k2", "k3"]) == {"k2", "k3"}


# -- workflow runs ----------------------------------------------------------------------------


async def test_one_trigger_record_creates_one_run_per_workflow(store: Store) -> None:
    first = await store.create_run("w", "tickets:t1@2026", b'{"id": "t1"}', NOW)
    assert first is not None
    assert await store.create_run("w", "tickets:t1@2026", b'{"id": "again"}', NOW + 1) is None
    other = await store.create_run("v", "tickets:t1@2026", b"{}", NOW)
    assert other is not None and other != first

    run = await store.workflow_run(first)
    assert run is not None
    assert (run.workflow, run.key, run.trigger, run.state) == (
        "w",
        "tickets:t1@2026",
        b'{"id": "t1"}',
        "queued",
    )
    assert run.steps == ()
    assert await store.workflow_run(first + other + 100) is None


async def test_steps_are_recorded_in_order_and_replaced_by_index(store: Store) -> None:
    id = await store.create_run("w", "k", b"{}", NOW)
    assert id is not None
    await store.record_step(StepRecord(id, 1, "note", "running", 1, NOW + 2, input=b'{"a": 1}'))
    await store.record_step(
        StepRecord(id, 0, "task", "succeeded", 1, NOW, b"{}", b'{"id": "x"}', None, NOW + 1)
    )
    await store.record_step(
        StepRecord(
            id, 1, "note", "failed", 3, NOW + 2, b'{"a": 1}', None, "HTTP 400: no text", NOW + 3
        )
    )

    run = await store.workflow_run(id)
    assert run is not None
    assert run.steps == (
        StepRecord(id, 0, "task", "succeeded", 1, NOW, b"{}", b'{"id": "x"}', None, NOW + 1),
        StepRecord(
            id, 1, "note", "failed", 3, NOW + 2, b'{"a": 1}', None, "HTTP 400: no text", NOW + 3
        ),
    )


async def test_a_run_is_claimed_by_one_owner_until_its_claim_expires(store: Store) -> None:
    id = await store.create_run("w", "k", b"{}", NOW)
    assert id is not None
    assert await store.unfinished_runs(NOW) == [id]
    assert await store.claim_run(id, "a", NOW, ttl_s=10)
    assert not await store.claim_run(id, "b", NOW + 5, ttl_s=10)  # a holds it
    assert await store.claim_run(id, "a", NOW + 5, ttl_s=10)  # a renews, until NOW + 15
    assert await store.unfinished_runs(NOW + 10) == []  # running, claim alive
    assert await store.unfinished_runs(NOW + 20) == [id]  # a died: b may resume it
    assert await store.claim_run(id, "b", NOW + 20, ttl_s=10)
    run = await store.workflow_run(id)
    assert run is not None and (run.state, run.owner) == ("running", "b")


async def test_finished_runs_stay_visible_and_only_failed_ones_retry(store: Store) -> None:
    done = await store.create_run("w", "k1", b"{}", NOW)
    failed = await store.create_run("w", "k2", b"{}", NOW)
    other = await store.create_run("v", "k1", b"{}", NOW)
    assert done is not None and failed is not None and other is not None
    await store.finish_run(done, "succeeded", None, NOW + 1)
    await store.finish_run(failed, "failed", "step note: HTTP 400", NOW + 2)

    assert [(r.id, r.state, r.error) for r in await store.workflow_runs("w")] == [
        (failed, "failed", "step note: HTTP 400"),
        (done, "succeeded", None),
    ]
    assert [r.id for r in await store.workflow_runs("w", before_id=failed)] == [done]
    assert [r.id for r in await store.workflow_runs("w", limit=1)] == [failed]
    assert await store.unfinished_runs(NOW + 3) == [other]
    assert not await store.claim_run(done, "a", NOW + 3, ttl_s=10)

    assert not await store.retry_run(done, NOW + 4)
    assert await store.retry_run(failed, NOW + 4)
    run = await store.workflow_run(failed)
    assert run is not None and (run.state, run.error, run.owner) == ("queued", None, None)
    assert await store.unfinished_runs(NOW + 5) == [failed, other]


# -- batches whose outcome is checked later ---------------------------------------------------


def sent(batch_id: str, events: Sequence[LoggedEvent], check_at: float) -> SentBatch:
    jobs = [SentJob(e.seq, e.user_key, attempts=0, first_failed_at=None) for e in events]
    return SentBatch(batch_id, jobs, check_at, expires_at=check_at + 3600)


async def test_a_sent_batch_is_neither_delivered_nor_backlog_until_its_check(
    store: Store,
) -> None:
    e = await logged(store, [new("a", 1), new("b", 2), new("c", 3)])

    await store.record(Round("d", NOW, cursor=e[-1].seq, sent=[sent("b-1", e[:2], NOW + 10)]))

    stats = await store.stats("d", {"web"})
    assert (stats.sent, stats.delivered, stats.backlog, stats.retrying) == (2, 0, 0, 0)
    assert await store.batch_checks("d", NOW + 9, 10) == []
    (check,) = await store.batch_checks("d", NOW + 10, 10)
    assert (check.batch_id, check.expires_at) == ("b-1", NOW + 3610)
    assert [(j.event, j.attempts, j.first_failed_at) for j in check.jobs] == [
        (e[0], 0, None),
        (e[1], 0, None),
    ]
    assert await store.batch_checks("other", NOW + 10, 10) == []


async def test_a_check_records_each_jobs_outcome_and_forgets_the_batch(store: Store) -> None:
    e = await logged(store, [new("a", 1), new("b", 2), new("c", 3), new("c", 4)])
    await store.record(Round("d", NOW, cursor=e[-1].seq, sent=[sent("b-1", e[:3], NOW)]))

    still = await store.record(
        Round(
            "d",
            NOW + 1,
            checked=["b-1"],
            delivered=[e[0].seq],
            retry=[retry(e[1], NOW + 60)],
            dead=[dead(e[2], "HTTP 404: People not found")],
        )
    )

    assert still == {"b"}
    assert await store.batch_checks("d", NOW + 100, 10) == []
    stats = await store.stats("d", {"web"})
    assert (stats.sent, stats.delivered, stats.retrying, stats.dead) == (0, 1, 1, 1)
    assert stats.dead_by_error == {"HTTP 404: People not found": 1}
    assert [p.event for p in await store.due("d", NOW + 60, 10)] == [e[1]]


async def test_a_check_can_be_postponed_and_unverified_deliveries_are_counted(
    store: Store,
) -> None:
    e = await logged(store, [new("a", 1), new("b", 2), new("c", 3)])
    await store.record(
        Round("d", NOW, cursor=e[-1].seq, sent=[sent("late", e[:1], NOW), sent("x", e[1:2], NOW)])
    )

    await store.record(Round("d", NOW, postponed=[("late", NOW + 30)]))
    assert [c.batch_id for c in await store.batch_checks("d", NOW, 10)] == ["x"]
    assert [c.batch_id for c in await store.batch_checks("d", NOW + 30, 1)] == ["x"]
    await store.record(
        Round(
            "d", NOW, checked=["x", "late"], delivered=[e[0].seq, e[1].seq, e[2].seq], unverified=2
        )
    )

    stats = await store.stats("d", {"web"})
    assert (stats.sent, stats.delivered, stats.unverified) == (0, 3, 2)


async def test_sending_a_retried_event_in_a_batch_ends_its_pending_row(store: Store) -> None:
    (e,) = await logged(store, [new("u", 1)])
    await store.record(Round("d", NOW, cursor=e.seq, retry=[retry(e, NOW)]))

    await store.record(Round("d", NOW, sent=[sent("b", [e], NOW + 5)]))

    assert await store.due("d", NOW + 100, 10) == []
    assert await store.blocked_users("d") == set()
    assert (await store.stats("d", {"web"})).sent == 1


async def test_prune_keeps_the_events_of_sent_batches_until_checked(store: Store) -> None:
    e = await logged(store, [new("u", 1), new("v", 2)])
    await store.record(Round("d", NOW, cursor=e[-1].seq, sent=[sent("b", e[:1], NOW)]))
    await store.record(Round(PROBE, NOW, cursor=e[-1].seq))

    assert await store.prune(["d", PROBE]) == 1

    (check,) = await store.batch_checks("d", NOW, 10)
    assert [j.event for j in check.jobs] == e[:1]
    await store.record(Round("d", NOW, checked=["b"], delivered=[e[0].seq]))
    assert await store.prune(["d", PROBE]) == 1
