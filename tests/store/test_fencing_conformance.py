"""Fenced leases, on every backend: a worker whose lease was taken over cannot write.

Each lease carries a token that grows each time the lease changes hands; a round or a release
carrying an older token is refused whole (``Fenced``), and the new holder's go through. Worker
"a" takes the lease first; "b" takes it over once it expired (PostgreSQL), or at once (SQLite,
where the newest worker of the file wins).
"""

from __future__ import annotations

import pytest

from csroute.store.base import Fenced, Round, Store
from store.test_store_conformance import NOW, dead, logged, new, retry

TTL = 10.0


async def take_over(store: Store) -> tuple[int, int]:
    """``a`` leases the destination, then ``b`` takes it over; their tokens."""
    a = await store.lease("d", 1, "a", NOW, TTL)
    b = await store.lease("d", 1, "b", NOW + TTL + 1, TTL)
    assert (a.held, b.held) == ([0], [0])
    return a.tokens[0], b.tokens[0]


async def test_renewing_keeps_the_token_and_a_takeover_raises_it(store: Store) -> None:
    first = await store.lease("d", 1, "a", NOW, TTL)
    again = await store.lease("d", 1, "a", NOW + 1, TTL)
    assert again.tokens == first.tokens
    taken = await store.lease("d", 1, "b", NOW + TTL + 2, TTL)
    assert taken.tokens[0] > first.tokens[0]
    # Back to a (b gave it up): a gets a token newer than both, not its old one.
    await store.release("d", 1, "b", taken.tokens)
    back = await store.lease("d", 1, "a", NOW + TTL + 3, TTL)
    assert back.held == [0]
    assert back.tokens[0] > taken.tokens[0]


async def test_a_round_with_the_current_token_is_recorded(store: Store) -> None:
    events = await logged(store, [new("u", 0), new("u", 1)])
    lease = await store.lease("d", 1, "a", NOW, TTL)
    await store.record(
        Round(
            "d",
            NOW,
            cursor=events[-1].seq,
            delivered=[e.seq for e in events],
            token=lease.tokens[0],
        )
    )
    assert (await store.read_new("d", ["web"], 10)).events == []
    assert (await store.stats("d", ["web"])).delivered == 2


async def test_a_round_with_a_stale_token_is_refused_whole(store: Store) -> None:
    e0, e1, e2, e3 = await logged(store, [new("u", 0), new("v", 1), new("v", 2), new("w", 3)])
    stale, fresh = await take_over(store)
    every_kind = Round(
        "d",
        NOW,
        cursor=e3.seq,
        delivered=[e0.seq],
        retry=[retry(e1, NOW)],
        held=[(e2.seq, "v")],
        dead=[dead(e3)],
        traits={"u": b'{"plan": "pro"}'},
        token=stale,
    )
    with pytest.raises(Fenced, match="another worker took the lease over"):
        await store.record(every_kind)
    # Nothing of it landed: the new holder finds the partition exactly as it was.
    assert [e.seq for e in (await store.read_new("d", ["web"], 10)).events] == [
        e0.seq,
        e1.seq,
        e2.seq,
        e3.seq,
    ]
    stats = await store.stats("d", ["web"])
    assert (stats.delivered, stats.retrying, stats.held, stats.dead) == (0, 0, 0, 0)
    assert await store.due("d", NOW + 1, 10) == []
    assert await store.blocked_users("d") == set()
    assert await store.traits("d", ["u"]) == {}
    assert await store.dead_letters("d") == []
    # The same round under the current token goes through.
    every_kind.token = fresh
    assert await store.record(every_kind) == {"v"}
    assert (await store.stats("d", ["web"])).delivered == 1


async def test_a_round_for_a_partition_never_leased_is_refused(store: Store) -> None:
    (e0,) = await logged(store, [new("u", 0)])
    with pytest.raises(Fenced):
        await store.record(Round("d", NOW, cursor=e0.seq, delivered=[e0.seq], token=1))
    assert (await store.stats("d", ["web"])).delivered == 0


async def test_a_stale_release_leaves_the_lease_with_its_new_holder(store: Store) -> None:
    (e0,) = await logged(store, [new("u", 0)])
    stale, fresh = await take_over(store)
    with pytest.raises(Fenced):
        await store.release("d", 1, "a", {0: stale})
    # b still holds it, under the same token, and records with it.
    renewed = await store.lease("d", 1, "b", NOW + TTL + 2, TTL)
    assert (renewed.held, renewed.tokens) == ([0], {0: fresh})
    await store.record(Round("d", NOW, cursor=e0.seq, delivered=[e0.seq], token=fresh))
    assert (await store.stats("d", ["web"])).delivered == 1


async def test_a_round_without_a_token_is_not_fenced(store: Store) -> None:
    """Callers that hold no lease (tools, a store used by one worker alone) are not fenced."""
    (e0,) = await logged(store, [new("u", 0)])
    await take_over(store)
    await store.record(Round("d", NOW, cursor=e0.seq, delivered=[e0.seq]))
    assert (await store.stats("d", ["web"])).delivered == 1
