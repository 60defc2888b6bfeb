"""Partitions and leases: how the PostgreSQL store lets several workers share a destination."""

from __future__ import annotations

import json

import pytest

from csroute.events.model import NewEvent
from csroute.store.base import Retry, Round, SentBatch, SentJob, in_partition
from csroute.store.postgres import PostgresStore

NOW = 1_700_000_000.0
USERS = [f"user-{i}" for i in range(40)]


def new(user: str, n: int, source: str = "web") -> NewEvent:
    payload = json.dumps({"type": "track", "userId": user, "n": n}).encode()
    return NewEvent(source=source, user_key=user, type="track", payload=payload)


async def test_partitions_split_users_and_move_independently(pg_store: PostgresStore) -> None:
    await pg_store.append([new(u, n) for n in range(3) for u in USERS])
    everything = (await pg_store.read_new("probe", {"web"}, 1000)).events

    pages = [await pg_store.read_new("d", {"web"}, 1000, (k, 4)) for k in range(4)]

    for k, page in enumerate(pages):
        assert page.events, k  # 40 users spread over 4 partitions: none is empty
        assert all(in_partition(e.user_key, (k, 4)) for e in page.events)
        assert page.cursor == everything[-1].seq
    assert sorted(e.seq for p in pages for e in p.events) == [e.seq for e in everything]
    # Partition 0 records its page; the others have still everything ahead of them.
    await pg_store.record(Round("d", NOW, cursor=pages[0].cursor, partition=(0, 4)))
    assert (await pg_store.read_new("d", {"web"}, 1000, (0, 4))).events == []
    assert (await pg_store.read_new("d", {"web"}, 1000, (1, 4))).events == pages[1].events
    stats = await pg_store.stats("d", {"web"})
    assert stats.backlog == len(everything) - len(pages[0].events)
    # Pruning waits for the slowest partition.
    assert await pg_store.prune(["d"]) == 0


@pytest.mark.parametrize("n", [2, 8, 64])
async def test_a_partitions_page_merges_its_parts_and_sources_in_seq_order(
    pg_store: PostgresStore, n: int
) -> None:
    """A page reads each part of the partition, for each source, and merges them: whatever the
    split (one part per partition at 64, 32 parts at 2), it is the partition's events in seq
    order, and a page cut short by ``limit`` ends at its last event."""
    await pg_store.append([new(u, i, source) for i in range(3) for u in USERS for source in "xy"])
    everything = (await pg_store.read_new("probe", {"x", "y", "z"}, 10_000)).events
    for k in {0, 1, n - 1}:
        mine = [e for e in everything if in_partition(e.user_key, (k, n))]
        page = await pg_store.read_new("d", {"x", "y", "z"}, 10_000, (k, n))
        assert page.events == mine
        assert page.cursor == everything[-1].seq
        only_x = [e for e in mine if e.source == "x"]
        if len(only_x) > 1:
            short = await pg_store.read_new("d", {"x"}, len(only_x) - 1, (k, n))
            assert short.events == only_x[:-1]
            assert short.cursor == only_x[-2].seq
    assert (await pg_store.read_new("d", set(), 10, (0, n))).events == []


async def test_pending_events_are_seen_by_their_partition_only(pg_store: PostgresStore) -> None:
    await pg_store.append([new(u, 0) for u in USERS])
    events = (await pg_store.read_new("probe", {"web"}, 1000)).events
    retries = [Retry(e.seq, e.user_key, 1, NOW, NOW, "503") for e in events]
    for k in range(2):
        mine = [r for r in retries if in_partition(r.user_key, (k, 2))]
        await pg_store.record(Round("d", NOW, cursor=events[-1].seq, retry=mine, partition=(k, 2)))

    for k in range(2):
        due = await pg_store.due("d", NOW, 1000, (k, 2))
        blocked = await pg_store.blocked_users("d", (k, 2))
        assert {p.event.user_key for p in due} == blocked
        assert blocked == {u for u in USERS if in_partition(u, (k, 2))}
    assert (await pg_store.stats("d", {"web"})).retrying == len(USERS)
    assert (await pg_store.stats("d", {"web"})).backlog == 0


async def test_sent_batches_are_checked_by_their_partition_only(pg_store: PostgresStore) -> None:
    await pg_store.append([new(u, 0) for u in USERS])
    events = (await pg_store.read_new("probe", {"web"}, 1000)).events
    for k in range(2):
        mine = [
            SentJob(e.seq, e.user_key, 0, None) for e in events if in_partition(e.user_key, (k, 2))
        ]
        batch = SentBatch(f"batch-{k}", mine, NOW, NOW + 3600)
        await pg_store.record(
            Round("d", NOW, cursor=events[-1].seq, sent=[batch], partition=(k, 2))
        )

    for k in range(2):
        (check,) = await pg_store.batch_checks("d", NOW, 10, (k, 2))
        assert check.batch_id == f"batch-{k}"
        assert {j.event.user_key for j in check.jobs} == {
            u for u in USERS if in_partition(u, (k, 2))
        }
    assert (await pg_store.stats("d", {"web"})).sent == len(USERS)


async def test_a_new_split_starts_where_the_slowest_old_partition_was(
    pg_store: PostgresStore,
) -> None:
    await pg_store.append([new(u, 0) for u in USERS])
    events = (await pg_store.read_new("probe", {"web"}, 1000)).events
    await pg_store.record(Round("d", NOW, cursor=events[9].seq))  # one partition, 10 taken

    page = await pg_store.read_new("d", {"web"}, 1000, (1, 2))

    # Nothing skipped: the new partitions start at the old cursor.
    assert page.events == [e for e in events[10:] if in_partition(e.user_key, (1, 2))]
    for k in range(2):
        await pg_store.record(Round("d", NOW, cursor=events[-1].seq, partition=(k, 2)))
    # Once every new partition has a cursor, the old one no longer holds pruning back.
    assert await pg_store.prune(["d"]) == len(events)


async def test_workers_lease_fair_shares_and_take_over_expired_leases(
    pg_store: PostgresStore,
) -> None:
    alone = await pg_store.lease("d", 8, "a", NOW, ttl_s=10)
    assert (alone.held, alone.workers) == (list(range(8)), 1)

    # b joins: it gets nothing until a hands back its share beyond half.
    b = await pg_store.lease("d", 8, "b", NOW + 1, ttl_s=10)
    assert (b.held, b.workers) == ([], 2)
    a = await pg_store.lease("d", 8, "a", NOW + 2, ttl_s=10)
    assert a.workers == 2
    await pg_store.release("d", 8, "a", {k: a.tokens[k] for k in a.held[4:]})
    b = await pg_store.lease("d", 8, "b", NOW + 3, ttl_s=10)
    assert b.held == [4, 5, 6, 7]

    # a dies: once its leases expire, b takes everything over.
    assert (await pg_store.lease("d", 8, "b", NOW + 11, ttl_s=10)).held == [4, 5, 6, 7]
    b = await pg_store.lease("d", 8, "b", NOW + 12.5, ttl_s=10)
    assert (b.held, b.workers) == (list(range(8)), 1)
    # Other destinations and splits are leased separately.
    assert (await pg_store.lease("other", 8, "a", NOW + 13, ttl_s=10)).held == list(range(8))
