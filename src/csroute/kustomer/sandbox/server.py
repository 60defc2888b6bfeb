"""Running the sandbox: in the foreground for ``csroute sandbox kustomer``, or in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from csroute.kustomer.sandbox.app import create_app

DEFAULT_PORT = 8092


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, **options: Any) -> None:
    """Serve a sandbox org until interrupted; ``options`` are ``create_app``'s."""
    uvicorn.run(create_app(**options), host=host, port=port, log_level="warning")


@contextmanager
def running(**options: Any) -> Iterator[str]:
    """A sandbox on 127.0.0.1 (a free port) in a background thread; yields its base URL.

    For tests and benchmarks; inspect what landed through ``/__sandbox/state``.
    """
    config = uvicorn.Config(create_app(**options), host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kustomer-sandbox", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the Kustomer sandbox did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
