"""The frames the store and its writer process exchange over their socket.

Each frame is a header (payload length, kind, the writer's commit count) and a payload. The
store sends ``APPEND`` (rows as a msgpack array of ``ROW_PARAMS`` values per row) and ``JOB``
(a pickled ``(function, args)``: the functions of ``writes``); the writer answers every frame,
in the order received, with ``OK`` (a pickled result, empty for appends) or ``FAILED`` (a
pickled exception). The commit count rides on every reply so that the store can report it
without asking.
"""

from __future__ import annotations

import struct
from typing import Final

HEADER: Final = struct.Struct("<IBQ")

APPEND: Final = 1
JOB: Final = 2
OK: Final = 3
FAILED: Final = 4
READY: Final = 5
"""Sent once by the writer when its connection is open, before it reads anything."""

ROW_PARAMS: Final = 5
"""Parameters per event row: source, user_key, type, payload, received_at."""


def frame(kind: int, payload: bytes = b"", commits: int = 0) -> bytes:
    return HEADER.pack(len(payload), kind, commits) + payload


def take_frames(buffer: bytearray) -> list[tuple[int, int, bytes]]:
    """Remove the complete frames from the front of ``buffer``: ``(kind, commits, payload)``."""
    frames = []
    start, end = 0, len(buffer)
    while end - start >= HEADER.size:
        size, kind, commits = HEADER.unpack_from(buffer, start)
        stop = start + HEADER.size + size
        if stop > end:
            break
        frames.append((kind, commits, bytes(buffer[start + HEADER.size : stop])))
        start = stop
    del buffer[:start]
    return frames
