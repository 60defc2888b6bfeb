"""The fast tier's promise: a test marked ``unit`` cannot start a server or a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from support.unit import LeftTheProcess

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)


def test_a_unit_test_cannot_listen_or_connect() -> None:
    with socket.socket() as s, pytest.raises(LeftTheProcess, match="bind a socket"):
        s.bind(("127.0.0.1", 0))
    with socket.socket() as s, pytest.raises(LeftTheProcess, match="connect a socket"):
        s.connect(("127.0.0.1", 9))


def test_a_unit_test_cannot_start_a_process() -> None:
    with pytest.raises(LeftTheProcess, match="start a subprocess"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_socketpairs_stay_allowed_for_event_loops() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
