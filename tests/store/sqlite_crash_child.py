"""Appends batches to a SQLite store until killed, printing each batch id once acknowledged.

Run by ``test_sqlite_store`` as ``python sqlite_crash_child.py DB SYNCHRONOUS RUN``: several
tasks append at once so that the kill also lands in the middle of shared (group) commits.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Literal, cast

from csroute.events.model import NewEvent
from csroute.store.sqlite import SQLiteStore

BATCH = 10
TASKS = 8


async def append_forever(store: SQLiteStore, run: str, task: int) -> None:
    for n in range(1_000_000_000):
        batch = f"{run}-{task}-{n}"
        await store.append(
            [
                NewEvent("web", f"u{task}", "track", json.dumps({"batch": batch, "i": i}).encode())
                for i in range(BATCH)
            ]
        )
        print(batch, flush=True)


async def main(path: str, synchronous: str, run: str) -> None:
    store = await SQLiteStore.open(path, cast(Literal["full", "normal"], synchronous))
    await asyncio.gather(*(append_forever(store, run, task) for task in range(TASKS)))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
