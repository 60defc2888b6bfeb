"""A Custify sandbox whose batch checks wait for the test: the moment between a batch being
sent and its outcome being read is the test's to choose."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from csroute.custify.sandbox import create_app


class HeldChecks:
    """The sandbox with every ``GET /batch/{id}`` held until the test sets ``opened``;
    ``holding`` is set once one is held (the batch was sent, its check is under way)."""

    def __init__(self, **options: Any) -> None:
        self.app = create_app(**options)
        self.holding = threading.Event()
        self.opened = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        check = scope["type"] == "http" and scope["method"] == "GET"
        if check and scope["path"].startswith("/batch/") and not self.opened.is_set():
            self.holding.set()
            while not self.opened.is_set():
                await asyncio.sleep(0.01)
        await self.app(scope, receive, send)
