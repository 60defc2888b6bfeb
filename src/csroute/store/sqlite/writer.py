"""The store's side of the writer process: hand it the writes, wake callers when it answers.

Every write goes to one process that owns the write connection (``writer_process``, which
says why it is a process). Here, on the event loop:

* appends made in one pass of the loop go out in one frame, at the end of the pass or as soon
  as they hold ``HAND_OVER_ROWS`` rows, with their rows already flattened into statement
  parameters; the process commits every frame that arrived since its last commit at once;
* other writes are ``writes`` functions, pickled with their arguments, run in a transaction
  of their own;
* the process answers every frame in order, so the callers waiting for each frame are kept
  in a queue and woken as the answers come in.

The writer is tied to the event loop it was started on; the socket is read by that loop. A
process that dies is replaced (``Writer``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import msgspec

from csroute.events.model import NewEvent
from csroute.store.base import StoreUnavailable
from csroute.store.sqlite import wire

T = TypeVar("T")

log = logging.getLogger(__name__)

HAND_OVER_ROWS: Final = 32
"""A pass's appends go to the writer as soon as they hold 32 rows, not only at its end: when
many requests arrive together, the first ones commit while the loop still works on the rest,
instead of all of them waiting for one commit with the loop idle (+10% single-event requests/s
at 64 connections, docs/benchmarks.md)."""

RESTART_DELAY_S: Final = 0.1
"""The wait before trying again to start a writer process that could not start; it doubles
with each failure, up to ``MAX_RESTART_DELAY_S``."""
MAX_RESTART_DELAY_S: Final = 5.0

_PROCESS: Final = "csroute.store.sqlite.writer_process"
_encode_rows = msgspec.msgpack.Encoder().encode
_Waiters = list[asyncio.Future[Any]]


class Writer:
    """Sends writes to the writer process and resolves their futures; see the module docstring.

    Start it with ``await Writer.start(path, synchronous)``. Should the process die (killed,
    out of memory), the writes in flight fail with ``StoreUnavailable`` and a new process is
    started at once; writes fail the same way until it is up.
    """

    def __init__(
        self, path: Path, synchronous: Literal["full", "normal"], process: _Process
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._path = path
        self._synchronous: Literal["full", "normal"] = synchronous
        self._process = process
        self._commits_before = 0  # by the processes before this one
        self._restarting: asyncio.Task[None] | None = None
        self._gathering: _Waiters | None = None
        self._params: list[object] = []
        self._closed = False
        process.answers.done.add_done_callback(self._process_lost)

    @classmethod
    async def start(cls, path: Path, synchronous: Literal["full", "normal"]) -> Writer:
        """Start the process and wait until its connection is open (raising if it cannot)."""
        return cls(path, synchronous, await _Process.start(path, synchronous))

    @property
    def pid(self) -> int:
        """The writer process's id (it shows in ``ps`` as ``...writer_process``)."""
        return self._process.popen.pid

    @property
    def commits(self) -> int:
        """Transactions committed so far: lets tests see that appends share commits."""
        return self._commits_before + self._process.answers.commits

    def append(self, events: Sequence[NewEvent]) -> asyncio.Future[None]:
        """Commit events with whatever other appends are queued; see ``Store.append``."""
        future: asyncio.Future[None] = self._loop.create_future()
        if not events:
            future.set_result(None)
            return future
        gathering = self._gathering
        if gathering is None:
            self._check(asyncio.get_running_loop())
            gathering = self._gathering = []
            self._loop.call_soon(self._hand_over, gathering)
        gathering.append(future)
        received_at = time.time()
        params = self._params
        for e in events:
            params += (e.source, e.user_key, e.type, e.payload, received_at)
        if len(params) >= HAND_OVER_ROWS * wire.ROW_PARAMS:
            self._hand_over(gathering)
        return future

    def _hand_over(self, gathering: _Waiters) -> None:
        if self._gathering is not gathering:
            return  # already handed over, when it filled up
        self._gathering = None
        params, self._params = self._params, []
        self._process.send(gathering, wire.frame(wire.APPEND, _encode_rows(params)))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(connection, *args)`` in the writer, in a transaction of its own, and commit.

        ``fn`` and ``args`` travel pickled: ``fn`` is a module-level function (of ``writes``).
        """
        self._check(asyncio.get_running_loop())
        future: asyncio.Future[T] = self._loop.create_future()
        self._process.send([future], wire.frame(wire.JOB, pickle.dumps((fn, args))))
        return await future

    @property
    def alive(self) -> bool:
        return not self._closed and not self._process.answers.lost

    async def close(self) -> None:
        """Let the process finish what it was sent, then wait for it to exit."""
        if not self._closed:
            self._closed = True
            if self._restarting is not None:
                self._restarting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._restarting
            if self._gathering is not None:
                self._hand_over(self._gathering)
            await self._process.close()
        await asyncio.to_thread(self._process.popen.wait)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        if loop is not self._loop:
            raise RuntimeError("a SQLite store is used on the event loop that opened it only")

    def _process_lost(self, _: object) -> None:
        if not self._closed:
            log.error("the SQLite writer process stopped; starting a new one")
            self._restarting = self._loop.create_task(self._restart())

    async def _restart(self) -> None:
        await asyncio.to_thread(self._process.popen.wait)
        delay = RESTART_DELAY_S
        while True:
            try:
                process = await _Process.start(self._path, self._synchronous)
            except Exception as exc:
                log.error("could not start the SQLite writer process (%s), retrying", exc)
                await asyncio.sleep(delay)
                delay = min(2 * delay, MAX_RESTART_DELAY_S)
                continue
            self._commits_before += self._process.answers.commits
            self._process = process
            process.answers.done.add_done_callback(self._process_lost)
            self._restarting = None
            log.warning("the SQLite writer process is running again")
            return


class _Process:
    """One writer process and the socket to it."""

    def __init__(
        self, popen: subprocess.Popen[bytes], transport: asyncio.Transport, answers: _Answers
    ) -> None:
        self.popen = popen
        self.transport = transport
        self.answers = answers

    @classmethod
    async def start(cls, path: Path, synchronous: Literal["full", "normal"]) -> _Process:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        with theirs:
            popen = subprocess.Popen(
                [sys.executable, "-m", _PROCESS, str(theirs.fileno()), str(path), synchronous],
                pass_fds=[theirs.fileno()],
                env=_child_env(),
                stdin=subprocess.DEVNULL,
            )
        ready: asyncio.Future[Any] = loop.create_future()
        answers = _Answers(collections.deque([[ready]]))
        transport, _ = await loop.create_unix_connection(lambda: answers, sock=ours)
        try:
            await ready
        except BaseException:
            transport.close()
            await asyncio.to_thread(popen.wait)
            raise
        return cls(popen, transport, answers)

    def send(self, waiters: _Waiters, data: bytes) -> None:
        if self.answers.lost:
            _resolve(waiters, None, _lost)
            return
        self.answers.waiting.append(waiters)
        self.transport.write(data)

    async def close(self) -> None:
        """Tell the process there is nothing more, and wait for its last answers."""
        if not self.answers.lost:
            self.transport.write_eof()
        await self.answers.done
        self.transport.close()


class _Answers(asyncio.Protocol):
    """Reads the writer's answers and wakes, in order, the callers waiting for each."""

    def __init__(self, waiting: collections.deque[_Waiters]) -> None:
        self.waiting = waiting
        self.commits = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for kind, commits, payload in wire.take_frames(self._buffer):
            self.commits = commits
            waiters = self.waiting.popleft()
            if kind == wire.FAILED:
                _resolve(waiters, None, functools.partial(_copy, pickle.loads(payload)))
            else:
                _resolve(waiters, pickle.loads(payload) if payload else None, None)

    @property
    def lost(self) -> bool:
        return self.done.done()

    def connection_lost(self, exc: Exception | None) -> None:
        self.done.set_result(None)
        while self.waiting:
            _resolve(self.waiting.popleft(), None, _lost)


def _lost() -> StoreUnavailable:
    return StoreUnavailable("the store's writer process stopped")


def _copy(error: BaseException) -> BaseException:
    """A fresh exception per caller: one object raised in many tasks piles up tracebacks."""
    try:
        return type(error)(*error.args)
    except Exception:
        return StoreUnavailable(str(error))


def _resolve(futures: _Waiters, result: Any, error: Callable[[], BaseException] | None) -> None:
    for future in futures:
        if future.done():  # the caller was cancelled
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error())


def _child_env() -> dict[str, str]:
    """The environment, with this process's import path: the writer imports what we import
    (csroute from a source checkout, the functions of a test's jobs)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env
