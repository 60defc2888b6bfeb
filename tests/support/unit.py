"""The fast tier: tests marked ``unit`` run inside the test process only.

``python3 run.py test --unit`` runs them (docs/benchmarks.md has the time). So that the tier
stays fast and honest, a ``unit`` test that binds or connects a network socket, or starts a
subprocess (a server, a sandbox, SQLite's writer process, PostgreSQL), fails at once, naming
what it tried; such a test belongs to the full suite. ``socket.socketpair`` stays allowed:
every asyncio event loop makes one to wake itself up.
"""

from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest


class LeftTheProcess(RuntimeError):
    """A ``unit`` test reached for the network or another process."""


def _refuse(what: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        raise LeftTheProcess(
            f"a test marked unit may not {what}: drop the mark, it belongs to the full suite"
        )

    return refused


def stay_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "bind", _refuse("bind a socket (start a server)"))
    monkeypatch.setattr(socket.socket, "connect", _refuse("connect a socket"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("connect a socket"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("start a subprocess"))
