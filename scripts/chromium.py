#!/usr/bin/env python3
"""Find the system Chromium the browser SDK tests drive, installing it when allowed.

    python3 scripts/chromium.py     # print the path of the browser (installing it if needed)

The tests use Debian's ``chromium`` package through Playwright for Python, never a browser
downloaded by ``playwright install``. When it is missing and this runs as root (as CI does),
it is installed with apt-get, as ``scripts/postgres.py`` does for PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PATH = Path("/usr/bin/chromium")
HOW_TO_GET_IT = (
    "Chromium was not found at /usr/bin/chromium. Install it, for example with\n"
    "  sudo apt-get install -y chromium      (Debian/Ubuntu)\n"
    "then run the tests again (as root they install it themselves)."
)


class Unavailable(Exception):
    """No Chromium here; the message says how to get it."""


def find_chromium(install: bool = True) -> Path:
    """The browser's path, installing the Debian package first if allowed."""
    if not PATH.exists() and install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing chromium with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env)
    if not PATH.exists():
        raise Unavailable(HOW_TO_GET_IT)
    return PATH


if __name__ == "__main__":
    try:
        print(find_chromium())
    except Unavailable as e:
        sys.exit(str(e))
