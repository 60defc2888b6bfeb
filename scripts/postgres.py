#!/usr/bin/env python3
"""A throwaway PostgreSQL server for the tests and benchmarks (standard library only).

    python3 scripts/postgres.py     # start one, print its URL, stop it on Ctrl-C

``run.py test`` uses ``temporary_server()`` and hands the URL to the tests in
``CSROUTE_TEST_POSTGRES_URL``. The server lives in a temporary directory on 127.0.0.1 and a
free port, and goes away with it. Binaries come from the Debian ``postgresql`` package; when
they are missing and this runs as root (as CI does), it installs them with apt-get.
``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HOW_TO_GET_IT = (
    "PostgreSQL binaries (initdb, pg_ctl) were not found. Install them, for example with\n"
    "  sudo apt-get install -y postgresql      (Debian/Ubuntu)\n"
    "  brew install postgresql                 (macOS)\n"
    "or point CSROUTE_TEST_POSTGRES_URL at a server where the URL's user may create databases."
)


class Unavailable(Exception):
    """No PostgreSQL server can be started here; the message says how to get one."""


def _bindir() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def find_binaries(install: bool) -> Path:
    """The directory holding initdb and pg_ctl, installing the Debian package if allowed."""
    found = _bindir()
    if found is None and install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing postgresql with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=False, env=env)
        found = _bindir()
    if found is None:
        raise Unavailable(HOW_TO_GET_IT)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(cmd: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextlib.contextmanager
def temporary_server(install: bool = True, fsync: bool = False) -> Iterator[str]:
    """Start a server in a temporary directory; yield its URL; stop it and delete everything.

    ``fsync`` off makes tests fast; a crash of csroute (not of PostgreSQL) is what the tests
    inject, and a commit is still atomic and visible the same way. Benchmarks turn it on.
    """
    bindir = find_binaries(install)
    root = Path(tempfile.mkdtemp(prefix="csroute-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        root.chmod(0o755)
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    try:
        subprocess.run(
            _as_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "csroute",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale",
                    "C",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"
            f" -c fsync={'on' if fsync else 'off'} -c max_connections=300"
            " -c shared_buffers=128MB"
        )
        subprocess.run(
            _as_owner(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(root / "server.log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        try:
            yield f"postgresql://csroute@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                check=False,
                stdout=subprocess.DEVNULL,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    # Stop the server on SIGTERM and SIGINT alike (a background job may have SIGINT ignored).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    try:
        with temporary_server(fsync=True) as url:
            print(url, flush=True)
            while True:
                time.sleep(3600)
    except Unavailable as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
