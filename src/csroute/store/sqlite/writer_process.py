"""The writer process: the one connection that writes, and the group commit behind durable acks.

    python -m csroute.store.sqlite.writer_process FD PATH SYNCHRONOUS

SQLite allows one writer at a time and a durable commit costs an fsync, so a commit per
request would cap ingestion at the disk's fsync rate. Instead every write goes through this
process: it takes every frame that arrived since its last commit, inserts all their appends in
a single transaction, commits once, and answers all of them. Under load the group grows by
itself, so the fsync is shared by however many requests arrived during the previous one.

It is a process rather than a thread of the server because a thread shares the GIL with the
event loop: under load the loop holds it nearly all the time, so the thread waited up to a
switch interval after each of its SQLite calls, and the loop lost time handing it over, on
every commit (docs/benchmarks.md, Gateway). Here the loop only writes and reads a socket.

Other writes (delivery rounds, replays, ...) are ``writes`` functions sent as jobs; each runs
in a transaction of its own, so that one failing round never takes appends down with it.

The process reads until the socket is closed, so it outlives its server by at most the work
already sent: killed with ``kill -9``, the server's socket closes and the writer commits what
it has (none of it acknowledged yet) and exits. It ignores SIGINT and SIGTERM, which a
terminal or a service manager sends to the whole process group, for the same reason: the
server decides when it stops, by closing the socket.
"""

from __future__ import annotations

import functools
import pickle
import signal
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any, Final, Literal, cast

import msgspec

from csroute.store.base import StoreUnavailable
from csroute.store.sqlite import schema, wire
from csroute.store.sqlite.errors import unavailable

MAX_STATEMENT_ROWS: Final = 128
"""Rows per ``INSERT``: their parameters stay under the 999 of SQLite builds before 3.32.
Each row count is a statement of its own, so the connection caches more statements than this
(``schema.STATEMENT_CACHE``)."""

_decode_rows = msgspec.msgpack.Decoder(list[Any]).decode
_RECEIVE_BYTES: Final = 1 << 20


@functools.cache
def insert_rows(n: int) -> str:
    """The ``INSERT`` of ``n`` events (``wire.ROW_PARAMS`` per row)."""
    return "INSERT INTO events (source, user_key, type, payload, received_at) VALUES " + ", ".join(
        ["(?, ?, ?, ?, ?)"] * n
    )


def insert_events(conn: sqlite3.Connection, params: list[Any]) -> None:
    """Insert the rows of ``params`` and commit them.

    Up to ``MAX_STATEMENT_ROWS`` rows take one autocommit statement; more take a transaction
    of statements that size plus one for the rest.
    """
    rows = len(params) // wire.ROW_PARAMS
    if rows <= MAX_STATEMENT_ROWS:
        conn.execute(insert_rows(rows), params)
        return
    conn.execute("BEGIN IMMEDIATE")
    step = wire.ROW_PARAMS * MAX_STATEMENT_ROWS
    for start in range(0, len(params), step):
        chunk = params[start : start + step]
        conn.execute(insert_rows(len(chunk) // wire.ROW_PARAMS), chunk)
    conn.execute("COMMIT")


class WriterProcess:
    """Answers the frames of one socket with one connection; see the module docstring."""

    def __init__(self, sock: socket.socket, conn: sqlite3.Connection) -> None:
        self._sock = sock
        self._conn = conn
        self._commits = 0

    def serve(self) -> None:
        self._sock.sendall(wire.frame(wire.READY))
        buffer = bytearray()
        while data := self._sock.recv(_RECEIVE_BYTES):
            buffer += data
            requests = wire.take_frames(buffer)
            start = 0
            while start < len(requests):
                end = start + 1
                if requests[start][0] == wire.APPEND:
                    while end < len(requests) and requests[end][0] == wire.APPEND:
                        end += 1
                    replies = self._appends([payload for _, _, payload in requests[start:end]])
                else:
                    replies = self._job(requests[start][2])
                self._sock.sendall(replies)
                start = end

    def _appends(self, payloads: list[bytes]) -> bytes:
        """Commit the rows of several APPEND frames at once; one reply per frame."""
        params = _decode_rows(payloads[0])
        for payload in payloads[1:]:
            params += _decode_rows(payload)
        try:
            insert_events(self._conn, params)
        except Exception as exc:
            self._rollback()
            rows = len(params) // wire.ROW_PARAMS
            reply = _failed(StoreUnavailable(f"could not commit {rows} events: {exc}"), 0)
        else:
            self._commits += 1
            reply = wire.frame(wire.OK, b"", self._commits)
        return reply * len(payloads)

    def _job(self, payload: bytes) -> bytes:
        try:
            fn, args = pickle.loads(payload)
            self._conn.execute("BEGIN IMMEDIATE")
            result = fn(self._conn, *args)
            self._conn.execute("COMMIT")
        except Exception as exc:
            self._rollback()
            return _failed(unavailable(exc), self._commits)
        self._commits += 1
        return wire.frame(wire.OK, pickle.dumps(result), self._commits)

    def _rollback(self) -> None:
        """Undo a failed transaction (SQLite may or may not have rolled it back itself)."""
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                print(f"csroute sqlite writer: rollback failed: {exc}", file=sys.stderr)


def _failed(exc: Exception, commits: int) -> bytes:
    try:
        payload = pickle.dumps(exc)
    except Exception:  # an exception that does not pickle: its text still tells what happened
        payload = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
    return wire.frame(wire.FAILED, payload, commits)


def main(argv: list[str]) -> None:
    fd, path, synchronous = argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int(fd))
    try:
        conn = schema.connect(Path(path), synchronous=cast(Literal["full", "normal"], synchronous))
    except Exception as exc:
        sock.sendall(_failed(unavailable(exc), 0))
        return
    try:
        WriterProcess(sock, conn).serve()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server is gone: nobody waits for an answer
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1:])
