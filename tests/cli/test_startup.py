"""Start-up stays fast by construction: commands import what they use, when they run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from csroute.cli.main import COMMANDS, load_command

HEAVY = ("aiohttp", "pyarrow", "csroute.custify.sandbox", "csroute.kustomer.sandbox", "uvicorn")

PROBE = """
import sys
from csroute.cli import app
try:
    app(sys.argv[1:])
except SystemExit as e:
    code = e.code
heavy = [m for m in {heavy!r} if m in sys.modules]
print("exit", code, "heavy", heavy, file=sys.stderr)
"""


def loaded_after(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stderr.splitlines()[-1]


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    assert loaded_after("--help", cwd=tmp_path) == "exit 0 heavy []"


def test_status_imports_nothing_heavy(tmp_path: Path) -> None:
    config = tmp_path / "csroute.yaml"
    config.write_text("destinations: [{name: cs, type: custify, settings: {api_key: k}}]\n")
    subprocess.run(
        [sys.executable, "-m", "csroute", "db", "migrate", "-c", str(config)], check=True
    )
    assert loaded_after("status", "-c", str(config), cwd=tmp_path) == "exit 0 heavy []"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    command = load_command(name)
    assert (command.help or "").strip().splitlines()[0] == COMMANDS[name][1]
