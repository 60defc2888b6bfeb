"""The router's batching contract, with a destination type defined here for the purpose."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

from csroute.destinations import registry
from csroute.destinations.base import Batching, Delivery, DestinationType, Request
from csroute.router.ratelimit import Limiters
from csroute.router.router import Router
from csroute.store.sqlite import SQLiteStore
from support.pipeline import append, event, make_config, wait_until
from support.receiver import Receiver
from support.servers import ServerThread


class Settings(msgspec.Struct):
    url: str


def transform(e: dict[str, Any], settings: Settings, _traits: Any) -> list[Request]:
    """A group becomes two requests that must arrive in order, like Custify's."""
    one = {"user": e["userId"], "n": e["properties"]["n"]}
    if e["type"] == "group":
        return [
            Request("POST", settings.url, {}, {}, {**one, "part": 1}),
            Request("POST", settings.url, {}, {}, {**one, "part": 2}),
        ]
    return [Request("POST", settings.url, {}, {}, one)]


def combine(requests: Sequence[Request]) -> Request:
    return Request("POST", requests[0].url, {}, {}, [r.body for r in requests])


PAIRS = DestinationType(
    name="pairs",
    settings=Settings,
    transform=transform,
    delivery=lambda s: Delivery(batching=Batching(50, combine, one_per_user=True)),
)


@pytest.fixture
def pairs_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.DESTINATION_TYPES, "pairs", PAIRS)


async def test_one_per_user_batches_never_carry_two_requests_of_a_user(
    sqlite_store: SQLiteStore, pairs_type: None
) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as server:
        config = make_config(
            [{"name": "p", "type": "pairs", "settings": {"url": server.url}}],
            delivery={"concurrency": 1},
        )
        events = []
        for n in range(6):
            for user in ("a", "b", "c"):
                events.append(event(user, n, type="group" if n % 3 == 1 else "track", groupId="g"))
        await append(sqlite_store, events)
        router = Router(config, sqlite_store, Limiters())
        router.start()
        try:
            await wait_until(lambda: len(receiver.accepted) == 24)
        finally:
            await router.stop()

    for body in receiver.bodies:
        if isinstance(body, list):
            users = [job["user"] for job in body]
            assert len(users) == len(set(users)), body
            assert all("part" not in job for job in body), "a two-request event was batched"
    per_user: dict[str, list[tuple[int, int]]] = {}
    for job in receiver.accepted:
        per_user.setdefault(job["user"], []).append((job["n"], job.get("part", 0)))
    for user, seen in per_user.items():
        assert seen == sorted(seen), user
        assert [p for n, p in seen if n in (1, 4)] == [1, 2, 1, 2]
