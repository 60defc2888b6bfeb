#!/usr/bin/env python3
"""Set up csroute in ./.venv and run it: the README's two commands.

    python3 run.py serve     # start the pipeline on embedded defaults (demo config, SQLite)
    python3 run.py test      # lint, type-check and run the whole test suite

Only the standard library is used here, so this works on a fresh machine with Python 3.11+.
The virtual environment is (re)built when pyproject.toml changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".csroute-installed"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (run.py runs under any python3)
        sys.exit(f"csroute needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing csroute and its dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run(*cmd: str) -> int:
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


POSTGRES_URL = "CSROUTE_TEST_POSTGRES_URL"


@contextlib.contextmanager
def postgres_for_tests() -> Iterator[None]:
    """Start a throwaway PostgreSQL server (scripts/postgres.py) and hand its URL to the tests.

    Kept when the variable is set already. When no server can be had, CI fails; elsewhere the
    tests that need one are skipped with the message saying how to get PostgreSQL.
    """
    if os.environ.get(POSTGRES_URL):
        yield
        return
    spec = importlib.util.spec_from_file_location("postgres", ROOT / "scripts" / "postgres.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(script.temporary_server())
        except (script.Unavailable, subprocess.CalledProcessError) as e:
            if os.environ.get("CI"):
                sys.exit(f"CI needs PostgreSQL for the tests and none could be started: {e}")
            print(f"note: the PostgreSQL tests will be skipped: {e}", flush=True)
            yield
            return
        print(f"PostgreSQL for the tests at {url}", flush=True)
        os.environ[POSTGRES_URL] = url
        try:
            yield
        finally:
            del os.environ[POSTGRES_URL]


def test(args: list[str]) -> int:
    checks = [
        (str(BIN / "ruff"), "check", "src", "tests", "bench", "scripts", "run.py"),
        (str(BIN / "ruff"), "format", "--check", "src", "tests", "bench", "scripts", "run.py"),
        (str(BIN / "mypy"),),
    ]
    failed = [c for c in checks if run(*c) != 0]
    with postgres_for_tests():
        code = run(str(BIN / "python"), "-m", "pytest", *args)
    if failed:
        print("failed checks:", ", ".join(" ".join(c[1:]) or c[0] for c in failed))
        return code or 1
    return code


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("serve", "test"):
        sys.exit(__doc__)
    ensure_venv()
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "test":
        sys.exit(test(rest))
    os.execv(str(BIN / "csroute"), [str(BIN / "csroute"), "serve", *rest])


if __name__ == "__main__":
    main()
