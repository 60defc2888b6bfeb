"""Every polling trigger against the Custify sandbox: first run from now, created and updated
records handed on oldest first, equal timestamps, paging past 200 records, backfill and since;
a failing handler; per-entity scopes; the share of the key's budget."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import yaml
from triggers_support import API_KEY, SEEDED, TYPES, Sandbox

from csroute.config import Config, parse
from csroute.custify.api import rate_limit_key
from csroute.custify.client.connection import resolve
from csroute.destinations.base import RateLimit
from csroute.router.ratelimit import LIMITERS, Limiter, Limiters
from csroute.store.base import Store
from csroute.triggers.catalog import BY_KEY, TRIGGERS
from csroute.triggers.poller import Output
from csroute.triggers.runner import Triggers

ALL = [t.key for t in TRIGGERS]
Poll = Callable[[], Awaitable[list[Output]]]


def document(sandbox: Sandbox, triggers: dict[str, Any]) -> dict[str, Any]:
    return {
        "sources": [{"name": "custify", "write_key": "wk"}],
        "custify_connections": {
            "sandbox": {
                "api_key": API_KEY,
                "base_url": sandbox.url,
                "rate_limit_requests": 10_000,
                "rate_limit_window_s": 1,
            }
        },
        "triggers": triggers,
    }


def configure(sandbox: Sandbox, key: str, **settings: Any) -> Config:
    resource = BY_KEY[key].resource.slug
    trigger: dict[str, Any] = {"type": key, "track": {"source": "custify"}, **settings}
    if sandbox.scope(resource) and "scope" not in settings:
        trigger["scope"] = sandbox.scope(resource)
    return parse(yaml.safe_dump(document(sandbox, {"t": trigger})))


def poller(sandbox: Sandbox, store: Store, key: str, **settings: Any) -> Poll:
    """One poll of trigger ``key`` per call, returning what it handed on (a fresh ``Triggers``
    each time: everything that carries over is in the store)."""
    config = configure(sandbox, key, **settings)

    async def poll() -> list[Output]:
        got: list[Output] = []

        async def handler(out: Output) -> None:
            got.append(out)

        triggers = Triggers(config, store)
        try:
            await triggers.running["t"].poller.poll(handler)
        finally:
            await triggers.stop()
        return got

    return poll


def ids(outputs: list[Output]) -> list[str]:
    return [out["id"] for out in outputs]


def group(sandbox: Sandbox, resource: str, id: str) -> str:
    """Segments and playbooks are listed one type at a time: order holds within a type."""
    if resource not in TYPES:
        return ""
    return str(sandbox.state.collection(SEEDED[resource])[id]["type"])


def assert_oldest_first(sandbox: Sandbox, key: str, got: list[Output], expected: list[str]) -> None:
    resource = BY_KEY[key].resource.slug
    assert sorted(ids(got)) == sorted(expected)
    for kind in {group(sandbox, resource, id) for id in expected}:
        mine = [id for id in ids(got) if group(sandbox, resource, id) == kind]
        assert mine == [id for id in expected if group(sandbox, resource, id) == kind]


def act(sandbox: Sandbox, key: str, old: list[str], count: int) -> list[str]:
    """What fires the trigger: ``count`` new records, or changes to ``old`` records (which
    are used up from the front)."""
    trigger = BY_KEY[key]
    if trigger.kind == "created":
        return sandbox.create(trigger.resource.slug, count)
    changed = [old.pop(0) for _ in range(count)]
    for id in changed:
        sandbox.update(trigger.resource.slug, id)
    return changed


@pytest.mark.parametrize("key", ALL)
async def test_the_first_run_starts_from_now_then_new_changes_come_oldest_first(
    sandbox: Sandbox, sqlite_store: Store, key: str
) -> None:
    resource = BY_KEY[key].resource.slug
    old = sandbox.create(resource, 4)
    poll = poller(sandbox, sqlite_store, key)

    assert await poll() == []  # what existed before the trigger is not handed on

    expected = act(sandbox, key, old, 3)
    got = await poll()

    assert_oldest_first(sandbox, key, got, expected)
    assert {out["type"] for out in got} == {key}
    assert all(out["via"] == "poll" and out["record"]["id"] == out["id"] for out in got)
    assert await poll() == []


@pytest.mark.parametrize("key", [t.key for t in TRIGGERS if t.kind == "updated"])
async def test_a_new_record_fires_updated_too(
    sandbox: Sandbox, sqlite_store: Store, key: str
) -> None:
    resource = BY_KEY[key].resource.slug
    old = sandbox.create(resource, 1)
    poll = poller(sandbox, sqlite_store, key)
    assert await poll() == []

    new = sandbox.create(resource, 2)
    sandbox.update(resource, old[0])

    assert_oldest_first(sandbox, key, await poll(), [*new, *old])


@pytest.mark.parametrize("key", ALL)
async def test_records_sharing_a_timestamp_are_neither_skipped_nor_repeated(
    sandbox: Sandbox, sqlite_store: Store, key: str
) -> None:
    resource = BY_KEY[key].resource.slug
    old = sandbox.create(resource, 3)
    poll = poller(sandbox, sqlite_store, key)
    assert await poll() == []

    with sandbox.frozen():
        first = act(sandbox, key, old, 2)
        assert sorted(ids(await poll())) == sorted(first)
        second = act(sandbox, key, old, 1)
        assert ids(await poll()) == second  # same timestamp as the first two, not repeated
    assert await poll() == []


@pytest.mark.parametrize("key", ALL)
async def test_a_poll_pages_back_past_200_records(
    sandbox: Sandbox, sqlite_store: Store, key: str
) -> None:
    trigger = BY_KEY[key]
    resource = trigger.resource.slug
    old = sandbox.create(resource, 205) if trigger.kind == "updated" else []
    poll = poller(sandbox, sqlite_store, key)
    assert await poll() == []

    expected = act(sandbox, key, old, 205)
    got = await poll()

    assert len(got) == 205
    assert_oldest_first(sandbox, key, got, expected)
    assert await poll() == []


@pytest.mark.parametrize("key", ALL)
async def test_backfill_hands_on_the_newest_existing_records_on_the_first_run(
    sandbox: Sandbox, sqlite_store: Store, key: str
) -> None:
    trigger = BY_KEY[key]
    resource = trigger.resource.slug
    made = sandbox.create(resource, 8)
    if trigger.kind == "updated":
        for id in made:
            sandbox.update(resource, id)
    poll = poller(sandbox, sqlite_store, key, backfill=3)

    got = await poll()

    kinds = {group(sandbox, resource, id) for id in made}
    expected = [
        id
        for kind in sorted(kinds)
        for id in [i for i in made if group(sandbox, resource, i) == kind][-3:]
    ]
    assert_oldest_first(sandbox, key, got, expected)
    assert await poll() == []


async def test_since_hands_on_every_record_stamped_from_then_on(
    sandbox: Sandbox, sqlite_store: Store
) -> None:
    made = sandbox.create("note", 3)
    since = sandbox.state.notes[made[1]]["created_at"]
    poll = poller(sandbox, sqlite_store, "note_created", since=since)

    assert ids(await poll()) == made[1:]
    assert await poll() == []


async def test_a_failing_handler_leaves_the_cursor_on_the_last_record_handed_on(
    sandbox: Sandbox, sqlite_store: Store
) -> None:
    poll = poller(sandbox, sqlite_store, "task_created")
    assert await poll() == []
    made = sandbox.create("task", 3)
    config = configure(sandbox, "task_created")
    got: list[str] = []

    async def breaks_on_the_second(out: Output) -> None:
        if len(got) == 1:
            raise RuntimeError("the output is down")
        got.append(out["id"])

    triggers = Triggers(config, sqlite_store)
    with pytest.raises(RuntimeError):
        await triggers.running["t"].poller.poll(breaks_on_the_second)
    await triggers.stop()

    assert got == made[:1]
    assert ids(await poll()) == made[1:]  # in a new process: nothing repeated, nothing lost


async def test_each_company_reads_every_company_and_starts_new_ones_from_their_first_record(
    sandbox: Sandbox, sqlite_store: Store
) -> None:
    sandbox.create("file", 1)  # the first company's, before the trigger starts
    poll = poller(sandbox, sqlite_store, "file_created", scope={"each_company": True})
    assert await poll() == []

    newer = sandbox.create("file", 1)
    other = sandbox.http.post("/company", json={"company_id": "globex"}).json()["id"]
    upload = {"file": ("g.txt", b"hi", "text/plain")}
    theirs = sandbox.http.post("/file", files=upload, data={"companyId": other}).json()["id"]

    assert sorted(ids(await poll())) == sorted([*newer, theirs])


async def test_records_go_to_the_pipeline_as_track_events(
    sandbox: Sandbox, sqlite_store: Store
) -> None:
    config = configure(sandbox, "ticket_created")
    triggers = Triggers(config, sqlite_store)
    try:
        await triggers.poll("t")
        made = sandbox.create("ticket", 2)
        assert await triggers.poll("t") == 2
    finally:
        await triggers.stop()

    page = await sqlite_store.read_new("probe", {"custify"}, 10)
    events = [json.loads(e.payload) for e in page.events]
    assert [e["event"] for e in events] == ["Custify Ticket Created"] * 2
    assert [e["properties"]["id"] for e in events] == made
    assert [e["anonymousId"] for e in events] == [f"custify:ticket:{id}" for id in made]
    assert events[0]["properties"]["record"]["externalId"] == sandbox.tickets[made[0]]


def test_polling_takes_its_share_of_the_key_limiter_that_delivery_uses(
    sandbox: Sandbox, sqlite_store: Store
) -> None:
    config = configure(sandbox, "person_created")
    connection = resolve(config.custify_connections, None)
    triggers = Triggers(config, sqlite_store)
    share = triggers.running["t"].poller.share
    client = triggers.running["t"].poller.client

    assert client.limiter is LIMITERS.get(connection.rate_limit)
    assert connection.rate_limit.key == rate_limit_key(API_KEY, sandbox.url)
    assert share.limit.requests == pytest.approx(10_000 * 0.10)
    assert share.limit.per_seconds == 1
    assert share.limit.key == f"{connection.rate_limit.key}:triggers"


class CountingLimiters(Limiters):
    """Hands out limiters that count the slots taken from the triggers' share."""

    def __init__(self) -> None:
        super().__init__()
        self.taken = 0

    def get(self, limit: RateLimit) -> Limiter:
        limiter = super().get(limit)
        if limit.key.endswith(":triggers"):
            counting = self

            class Counting(Limiter):
                async def acquire(self) -> None:
                    counting.taken += 1
                    await super().acquire()

            return Counting(limit)
        return limiter


async def test_every_request_of_all_24_triggers_takes_a_slot_of_the_share(
    sandbox: Sandbox, sqlite_store: Store
) -> None:
    for trigger in TRIGGERS:
        if trigger.kind == "created":
            sandbox.create(trigger.resource.slug, 2)
    every = {
        t.key: {
            "type": t.key,
            "track": {"source": "custify"},
            **({"scope": sandbox.scope(t.resource.slug)} if t.resource.scoped else {}),
        }
        for t in TRIGGERS
    }
    limiters = CountingLimiters()
    config = parse(yaml.safe_dump(document(sandbox, every)))
    triggers = Triggers(config, sqlite_store, limiters=limiters)
    before = sandbox.http.get("/__sandbox/state?summary=true").json()["requests"]["total"]
    try:
        for _ in range(2):  # the first run, then an idle poll
            for name in triggers.running:
                await triggers.poll(name)
    finally:
        await triggers.stop()
    after = sandbox.http.get("/__sandbox/state?summary=true").json()["requests"]["total"]

    assert limiters.taken == after - before
    assert after - before == 2 * 28 + 28  # first run: 2 requests per listing; idle: 1
