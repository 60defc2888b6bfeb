"""What only the SQLite backend promises: group commit, crash safety, surviving a full disk.

Some tests run jobs of their own in the writer process through ``SQLiteStore._writer``, to
hold the writer still or to shrink the database's size limit; nothing else in the interface
can.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest

from csroute.events.model import NewEvent
from csroute.store.base import DeadLetter, Retry, Round, StoreUnavailable
from csroute.store.sqlite import SQLiteStore, schema
from csroute.store.sqlite.writes import PRUNE_CHUNK
from support.servers import free_port
from support.sqlite_jobs import durability, hold_until_exists, limit_pages

CHILD = Path(__file__).with_name("sqlite_crash_child.py")
NOW = 1_700_000_000.0


def new(n: int, size: int = 0) -> NewEvent:
    payload = json.dumps({"n": n, "pad": "x" * size}).encode()
    return NewEvent(source="web", user_key=f"u{n % 7}", type="track", payload=payload)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "events.db")
    try:
        yield opened
    finally:
        await opened.close()


@contextlib.asynccontextmanager
async def writer_held(store: SQLiteStore, tmp_path: Path) -> AsyncIterator[None]:
    """Keep the writer busy for the block, so that all the block queues waits together.

    Tasks started in the block get one turn of the event loop to send their writes before the
    writer is let go.
    """
    held, gate = tmp_path / "held", tmp_path / "gate"
    busy = asyncio.ensure_future(store._writer.run(hold_until_exists, held, gate))
    while not held.exists():
        await asyncio.sleep(0.001)
    try:
        yield
        await asyncio.sleep(0)
    finally:
        gate.touch()
        await busy


async def test_concurrent_appends_share_one_commit(store: SQLiteStore, tmp_path: Path) -> None:
    before = store.commits
    async with writer_held(store, tmp_path):
        appends = [asyncio.ensure_future(store.append([new(n)])) for n in range(200)]

    await asyncio.gather(*appends)

    assert store.commits - before == 2  # the one that held the writer, then all 200 appends
    page = await store.read_new("d", {"web"}, 1000)
    assert sorted(json.loads(e.payload)["n"] for e in page.events) == list(range(200))


async def test_appends_wait_for_their_own_commit_only(store: SQLiteStore) -> None:
    for n in range(3):
        await store.append([new(n)])

    assert store.commits == 3
    assert len((await store.read_new("d", {"web"}, 10)).events) == 3


async def test_a_full_disk_fails_every_waiter_and_the_store_recovers(
    store: SQLiteStore, tmp_path: Path
) -> None:
    await store.append([new(0)])
    await store._writer.run(limit_pages, None)

    async with writer_held(store, tmp_path):
        appends = [asyncio.ensure_future(store.append([new(n, 4000)])) for n in range(1, 21)]
    outcomes = await asyncio.gather(*appends, return_exceptions=True)

    assert all(isinstance(o, StoreUnavailable) for o in outcomes), outcomes
    assert [
        json.loads(e.payload)["n"] for e in (await store.read_new("d", {"web"}, 100)).events
    ] == [0]

    await store._writer.run(limit_pages, 1073741823)
    await store.append([new(21, 4000)])
    await store.ping()
    page = await store.read_new("d", {"web"}, 100)
    assert [json.loads(e.payload)["n"] for e in page.events] == [0, 21]


def test_a_migration_on_a_full_disk_reports_the_full_disk(tmp_path: Path) -> None:
    """Past ``max_page_count`` SQLite undoes only the statement: the migration rolls the
    rest back itself and the error says what is wrong. (When SQLite undoes the whole
    transaction, as on a write the kernel refuses, the next test shows the same.)"""
    conn = schema.connect(tmp_path / "events.db", synchronous="full")
    conn.execute("PRAGMA max_page_count = 2")  # the schema needs more: the "disk" fills
    try:
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            schema.migrate(conn)
        assert not conn.in_transaction
    finally:
        conn.close()


def test_start_up_on_a_disk_that_refuses_writes_says_so(tmp_path: Path) -> None:
    """``csroute serve`` whose files may not grow past 60 KB (RLIMIT_FSIZE, so the kernel
    refuses the schema's writes, as a full disk would): one line naming the file and the
    error, and no traceback."""
    config = tmp_path / "csroute.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\nserver: {{host: 127.0.0.1, port: {free_port()}}}\n"
        "sources: [{name: a, write_key: wk-start-up-0001}]\n"
    )

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    done = subprocess.run(
        [sys.executable, "-m", "csroute", "serve", "--config", str(config)],
        preexec_fn=small_files,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    said = " ".join(done.stderr.split())  # the console wraps long lines
    assert f"cannot open {tmp_path / 'data' / 'events.db'}: sqlite: disk I/O error" in said
    assert "KiB free on its file system" in said
    assert "Traceback" not in said and "cannot rollback" not in said


async def test_everything_is_still_there_after_reopening(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "events.db")
    await store.append([new(n) for n in range(3)])
    e = (await store.read_new("d", {"web"}, 10)).events
    await store.record(
        Round(
            "d",
            NOW,
            cursor=e[2].seq,
            delivered=[e[1].seq],
            retry=[Retry(e[0].seq, e[0].user_key, 1, NOW + 5, NOW, "503")],
            dead=[DeadLetter(e[2].seq, e[2].user_key, 3, "gave up")],
            traits={"u0": b"{}"},
        )
    )
    await store.close()

    store = await SQLiteStore.open(tmp_path / "events.db")
    try:
        assert (await store.read_new("d", {"web"}, 10)).events == []
        assert [p.event for p in await store.due("d", NOW + 5, 10)] == [e[0]]
        assert [d.seq for d in await store.dead_letters("d")] == [e[2].seq]
        assert await store.traits("d", ["u0"]) == {"u0": b"{}"}
        assert (await store.stats("d", {"web"})).delivered == 1
    finally:
        await store.close()


@pytest.mark.parametrize("synchronous", ["full", "normal"])
async def test_the_database_is_in_wal_mode_with_the_durability_asked_for(
    tmp_path: Path, synchronous: Literal["full", "normal"]
) -> None:
    store = await SQLiteStore.open(tmp_path / "events.db", synchronous)
    try:
        mode, level = await store._writer.run(durability)
    finally:
        await store.close()

    assert (mode, level) == ("wal", {"full": 2, "normal": 1}[synchronous])


async def test_a_closed_store_refuses_work(store: SQLiteStore) -> None:
    await store.close()

    with pytest.raises(StoreUnavailable):
        await store.append([new(1)])
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.read_new("d", {"web"}, 10)


async def test_a_writer_process_that_dies_fails_its_writes_and_is_replaced(
    store: SQLiteStore,
) -> None:
    await store.append([new(0)])
    first = store._writer.pid

    os.kill(first, signal.SIGKILL)

    with pytest.raises(StoreUnavailable, match="writer process stopped"):
        await store.append([new(1)])
    with pytest.raises(StoreUnavailable):
        await store.ping()
    for _ in range(500):  # until the new process is up
        with contextlib.suppress(StoreUnavailable):
            await store.append([new(2)])
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("no new writer process")
    await store.ping()
    assert store._writer.pid != first
    page = await store.read_new("d", {"web"}, 10)
    assert [json.loads(e.payload)["n"] for e in page.events] == [0, 2]


async def test_closing_the_store_ends_its_writer_process(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "events.db")
    pid = store._writer.pid
    appended = asyncio.ensure_future(store.append([new(0)]))
    await asyncio.sleep(0)

    await store.close()

    await appended  # sent before the close: committed, not dropped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_database_from_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")

    with pytest.raises(RuntimeError, match="version 99"):
        await SQLiteStore.open(path)


async def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    from csroute.store.sqlite import schema

    path = tmp_path / "events.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for statement in schema.MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO events (source, user_key, type, payload, received_at)"
            " VALUES ('web', 'u1', 'track', '{}', 0)"
        )
        conn.execute("PRAGMA user_version = 1")
        conn.commit()

    store = await SQLiteStore.open(path)
    try:
        assert (await store.read_new("d", {"web"}, 10)).cursor == 1  # the data is still there
        assert await store.forget("d", "u1", 0.0) == 0  # the version 2 table exists
        assert await store.forgotten("d") == {"u1": 1}
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION


@pytest.mark.parametrize("synchronous", ["full", "normal"])
def test_acknowledged_appends_survive_kill_9(tmp_path: Path, synchronous: str) -> None:
    db = tmp_path / "events.db"
    acknowledged: set[str] = set()
    # Each run writes on top of the last crash, so recovery of a killed WAL is exercised too.
    for run, kill_after in enumerate((1, 50, 400)):
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(db), synchronous, str(run)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        with child:
            for _ in range(kill_after):
                line = child.stdout.readline()
                assert line, "the writer stopped before it was killed"
                acknowledged.add(line.strip())
            child.send_signal(signal.SIGKILL)
            acknowledged.update(child.stdout.read().split())  # printed before the kill landed
        assert child.returncode == -signal.SIGKILL

        with contextlib.closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            batches = Counter(
                json.loads(payload)["batch"]
                for (payload,) in conn.execute("SELECT payload FROM events")
            )
        assert acknowledged <= batches.keys()
        assert set(batches.values()) == {10}  # no batch is ever half in the log


async def test_prune_works_in_chunks_of_bounded_size(store: SQLiteStore) -> None:
    total = 2 * PRUNE_CHUNK + 10
    await store.append([new(n) for n in range(total)])
    page = await store.read_new("d", {"web"}, total)
    await store.record(Round("d", NOW, cursor=page.cursor))
    before = store.commits

    assert await store.prune(["d"]) == total

    assert store.commits - before == 3
