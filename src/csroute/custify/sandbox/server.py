"""Running the sandbox: ``serve`` for the CLI, ``running`` for tests and benchmarks that need a
real server on 127.0.0.1 inside the current process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette

from csroute.custify.sandbox.app import create_app

DEFAULT_PORT = 8091


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    log_level: str = "info",
    access_log: bool = False,
    **options: Any,
) -> None:
    """Run a sandbox until interrupted; ``options`` are ``create_app``'s keyword arguments.

    The access log is off by default: at benchmark rates it costs more than the sandbox itself.
    """
    uvicorn.run(
        create_app(**options), host=host, port=port, log_level=log_level, access_log=access_log
    )


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running(
    app: Starlette | None = None, *, host: str = "127.0.0.1", **options: Any
) -> Iterator[str]:
    """Serve ``app``, or a new sandbox made with ``options``, with uvicorn in a thread on a free
    port; yields the base URL. The server stops when the block ends."""
    port = _free_port(host)
    config = uvicorn.Config(
        app or create_app(**options),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="custify-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the Custify sandbox did not start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
