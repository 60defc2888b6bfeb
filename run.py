#!/usr/bin/env python3
"""Set up csroute in ./.venv and run it: the README's two commands.

    python3 run.py serve     # start the pipeline on embedded defaults (demo config, SQLite)
    python3 run.py test      # lint, type-check and run the whole test suite
    python3 run.py test --unit   # only the fast tier: in-process tests, no lint, no servers
    python3 run.py lock      # re-pin requirements.lock after changing pyproject.toml

Only the standard library is used here, so this works on a fresh machine with Python 3.11+.
The virtual environment is (re)built when pyproject.toml or requirements.lock changes, with
uv (installed from PyPI into .venv) or, when uv cannot be had, pip ($CSROUTE_INSTALLER=pip
forces pip).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".csroute-installed"
LOCK = ROOT / "requirements.lock"
UV = "uv==0.13.8"
"""The installer run.py prefers: a PyPI package (a Rust binary in a wheel), ~10x faster than pip."""
INSTALLER = "CSROUTE_INSTALLER"
"""Set to ``pip`` to install with pip only."""


def ensure_venv() -> None:
    """Build .venv when pyproject.toml or requirements.lock changed: uv when it can be
    installed from PyPI, else pip; versions from requirements.lock, and a dependency that
    file does not pin yet (one just added to pyproject.toml) resolved as pyproject says."""
    if sys.version_info < (3, 11):  # noqa: UP036 (run.py runs under any python3)
        sys.exit(f"csroute needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(LOCK.read_bytes() if LOCK.exists() else b"")
    wanted = digest.hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    started = time.monotonic()

    def step(what: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {what}", flush=True)

    if not (BIN / "python").exists():
        step("creating .venv ...")
        venv.EnvBuilder(with_pip=True).create(VENV)
    target = f"{ROOT}[dev]"
    if os.environ.get(INSTALLER) != "pip" and _uv(step):
        install = [str(BIN / "uv"), "pip", "install", "--python", str(BIN / "python")]
        step("installing csroute and its dependencies with uv ...")
    else:
        install = [str(BIN / "python"), "-m", "pip", "install", "--progress-bar", "on"]
        step("installing csroute and its dependencies with pip (a few minutes) ...")
    pinned = ["-c", str(LOCK)] if LOCK.exists() else []
    if subprocess.run([*install, *pinned, "-e", target]).returncode != 0:
        if not pinned:
            sys.exit("installing csroute failed (see above)")
        step("the pinned versions do not fit pyproject.toml; resolving it without them ...")
        subprocess.run([*install, "-e", target], check=True)
    STAMP.write_text(wanted)
    step("ready")


def _uv(step: Callable[[str], None]) -> bool:
    """Install uv into .venv with pip (one wheel); False when it cannot be had."""
    if (BIN / "uv").exists():
        return True
    step(f"installing {UV} (the fast installer) ...")
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if subprocess.run([*pip, UV]).returncode == 0:
        return True
    step("uv is not available; falling back to pip")
    return False


def lock() -> int:
    """Rewrite requirements.lock: pyproject.toml (with the dev extra) resolved by uv.

    uv reads the pins already in the file as preferences, so adding a dependency pins it (and
    what it needs) without upgrading every other package."""
    header = "".join(line + "\n" for line in LOCK_HEADER.splitlines())
    subprocess.run(
        [str(BIN / "uv"), "pip", "compile", "--quiet", "--no-header", "--no-annotate",
         "--extra", "dev", "--python", str(BIN / "python"), "--output-file", str(LOCK),
         str(ROOT / "pyproject.toml")],
        check=True,
    )  # fmt: skip
    compiled = LOCK.read_text()
    LOCK.write_text(header + compiled)
    print(f"wrote {LOCK.name} ({len(compiled.splitlines())} packages)")
    return 0


LOCK_HEADER = """\
# Exact versions of every package csroute and its dev tools install: run.py installs with
# these as constraints (uv, else pip), so every machine gets the same set.
#
# To add a dependency: add it to pyproject.toml (dependencies with a lower bound, or the dev
# extra) and its reason in docs/dependencies.md, then run `python3 run.py lock` to rewrite this
# file (it resolves pyproject.toml with uv and pins everything). Until then run.py still
# installs it: a package this file does not list is resolved from pyproject.toml alone."""


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
    if "--unit" in args:
        rest = [a for a in args if a != "--unit"]
        return run(str(BIN / "python"), "-m", "pytest", "-m", "unit", *rest)
    checks = [
        (str(BIN / "ruff"), "check", "src", "tests", "bench", "scripts", "run.py"),
        (str(BIN / "ruff"), "format", "--check", "src", "tests", "bench", "scripts", "run.py"),
        (str(BIN / "mypy"),),
        (str(BIN / "lint-imports"),),
    ]
    failed = [c for c in checks if run(*c) != 0]
    with postgres_for_tests():
        code = run(str(BIN / "python"), "-m", "pytest", *args)
    if failed:
        print("failed checks:", ", ".join(" ".join(c[1:]) or c[0] for c in failed))
        return code or 1
    return code


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("serve", "test", "lock"):
        sys.exit(__doc__)
    ensure_venv()
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "test":
        sys.exit(test(rest))
    if command == "lock":
        sys.exit(lock())
    os.execv(str(BIN / "csroute"), [str(BIN / "csroute"), "serve", *rest])


if __name__ == "__main__":
    main()
