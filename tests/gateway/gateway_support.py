"""A live gateway on 127.0.0.1 backed by a real SQLite store, on the test's event loop.

The server runs as a task of the test's own loop (the store wakes its callers on the loop
that appended), so tests talk to it over real HTTP with ``httpx.AsyncClient``, and run
blocking clients (the official SDKs) in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import uvicorn

from csroute.config import SourceConfig
from csroute.gateway.app import ASGIApp
from csroute.store.sqlite import SQLiteStore

WRITE_KEY = "wk_web_5f2a9c1e7b"
SOURCES = [
    SourceConfig(name="web", write_key=WRITE_KEY),
    SourceConfig(name="legacy", write_key="wk_legacy_0d3e8a", enabled=False),
]


def basic(write_key: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{write_key}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn (httptools, as in production) on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http="httptools", lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Gateway:
    url: str
    store: SQLiteStore
    client: httpx.AsyncClient

    async def stored(self) -> list[dict[str, Any]]:
        """Every event in the log, as stored (the payload decoded, the row's columns added)."""
        page = await self.store.read_new("test-reader", ["web", "legacy"], 100_000)
        return [
            {**msgspec.json.decode(e.payload), "_source": e.source, "_user_key": e.user_key}
            for e in page.events
        ]
