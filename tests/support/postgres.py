"""A PostgreSQL server for the tests, and a fresh empty database per test.

``run.py test`` starts a server and passes its URL in ``CSROUTE_TEST_POSTGRES_URL``. Without
it (``pytest`` run by hand), the first test that needs PostgreSQL starts a temporary server
with ``scripts/postgres.py`` if the binaries are installed. In CI (``CI`` set) a missing server
fails the tests; elsewhere they are skipped with a message saying how to get PostgreSQL.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import uuid
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

ENV = "CSROUTE_TEST_POSTGRES_URL"
_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.py"
_server: list[str] = []


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("csroute_pg_script", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def server_url() -> str:
    """The URL of a server where databases may be created (started once per test session)."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    if not _server:
        script = _script()
        stack = contextlib.ExitStack()
        try:
            _server.append(stack.enter_context(script.temporary_server(install=False)))
        except script.Unavailable as e:
            message = f"PostgreSQL tests need a server. {e}"
            if os.environ.get("CI"):
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        atexit.register(stack.close)
    return _server[0]


def fresh_database() -> str:
    """The URL of a new, empty database on the test server."""
    url = server_url()
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return url.rsplit("/", 1)[0] + "/" + name
