"""One Custify sandbox per module (no server-side rate limit), reset before each test; a sync
client ``api`` to arrange and inspect; ``run`` performs actions through each runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from custify_client_support import (
    API_KEY,
    FAST,
    Runner,
    async_runner,
    cli_runner,
    sync_runner,
    write_config,
)

from csroute.custify.client import Custify


@pytest.fixture
def api(url: str) -> Iterator[Custify]:
    with Custify(API_KEY, url, **FAST) as client:
        yield client


@pytest.fixture
def config_file(url: str, tmp_path: Path) -> Path:
    return write_config(tmp_path / "csroute.yaml", url)


@pytest.fixture(params=["async", "sync", "cli"])
def run(request: pytest.FixtureRequest, url: str, api: Custify, config_file: Path) -> Runner:
    if request.param == "async":
        return async_runner(url)
    if request.param == "sync":
        return sync_runner(api)
    return cli_runner(config_file)
