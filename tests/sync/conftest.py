"""A Custify sandbox per module (no server-side rate limit), reset before each test, and a
configuration file naming it; ``sync`` runs ``csroute sync`` in-process and returns the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sync_support import Sync, write_config
from typer.testing import CliRunner, Result

from csroute.cli.main import app


@pytest.fixture
def config_file(url: str, tmp_path: Path) -> Path:
    return write_config(tmp_path / "csroute.yaml", url)


@pytest.fixture
def sync(config_file: Path) -> Sync:
    def run(*args: Any, input: str | None = None, config: Path = config_file) -> Result:
        command = ["sync", *map(str, args), "--config", str(config)]
        return CliRunner().invoke(app, command, input=input, catch_exceptions=False)

    return run
