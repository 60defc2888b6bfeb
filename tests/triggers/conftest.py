"""A Custify sandbox served in this process (its state reachable), fresh for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from triggers_support import Sandbox

from csroute.custify.sandbox import create_app
from support.servers import ServerThread


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    app = create_app(api_keys=("sandbox-key",), rate_limit=None)
    with ServerThread(app) as server:
        kit = Sandbox(app, server.url)
        try:
            yield kit
        finally:
            kit.http.close()
