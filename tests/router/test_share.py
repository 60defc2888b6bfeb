"""A destination's partition workers: restarted when they fail to start."""

from __future__ import annotations

from pathlib import Path

from csroute.router.ratelimit import Limiters
from csroute.router.router import Router
from csroute.store.base import WHOLE, Partition, StoreUnavailable
from csroute.store.sqlite import SQLiteStore
from support.pipeline import append, event, make_config, wait_until
from support.receiver import Receiver
from support.servers import ServerThread


class FlakyStartStore(SQLiteStore):
    """Unreachable for the first look a worker takes at start-up."""

    failures = 1

    async def blocked_users(self, destination: str, partition: Partition = WHOLE) -> set[str]:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("database restarting")
        return await super().blocked_users(destination, partition)


async def test_a_worker_that_could_not_start_is_started_again(tmp_path: Path) -> None:
    store = await FlakyStartStore.open(tmp_path / "events.db")
    receiver = Receiver()
    try:
        with ServerThread(receiver) as server:
            config = make_config(
                [{"name": "hook", "type": "webhook", "settings": {"url": server.url}}]
            )
            await append(store, [event("u", n) for n in range(5)])
            router = Router(config, store, Limiters())
            router.start()
            try:
                await wait_until(lambda: len(receiver.accepted) == 5)
            finally:
                await router.stop()
    finally:
        await store.close()
    assert store.failures == 0
    assert [e["properties"]["n"] for e in receiver.accepted] == list(range(5))
