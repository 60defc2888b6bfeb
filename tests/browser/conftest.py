"""The official JavaScript SDKs, unmodified, against a real ``csroute serve``.

The packages are the npm releases pinned in ``package-lock.json``, installed here with
``npm ci`` (``node_modules`` is not committed). Browsers are Debian's Chromium driven by
Playwright for Python; pages are served from another origin than csroute, as in production.
One Custify sandbox and one csroute process serve the whole session, one browser each test
module: each test uses its own user, and gets its own browser context (no storage shared
between tests).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import HERE, SHOP_KEY, WRITE_KEY, Pipeline
from playwright.sync_api import Browser
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from csroute.custify.sandbox import running
from support.chromium import chromium
from support.process import CsrouteProcess
from support.servers import ServerThread


@pytest.fixture(scope="session")
def npm_packages() -> Path:
    """``npm ci`` when ``node_modules`` is missing or was installed from another lock file."""
    lock = HERE / "package-lock.json"
    stamp = HERE / "node_modules" / ".csroute-lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
        )
        stamp.write_text(digest)
    return HERE / "node_modules"


@pytest.fixture(scope="module")
def browser(npm_packages: Path) -> Iterator[Browser]:
    """One browser per module (see ``support.chromium``)."""
    with chromium() as launched:
        yield launched


def _static() -> Starlette:
    return Starlette(routes=[Mount("/", StaticFiles(directory=HERE))])


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory, npm_packages: Path) -> Iterator[Pipeline]:
    workdir = tmp_path_factory.mktemp("csroute")
    with (
        running(rate_limit=None) as sandbox,
        ServerThread(_static()) as pages,
        ServerThread(_static()) as elsewhere,
    ):
        config = {
            "sources": [
                {"name": "web", "write_key": WRITE_KEY},
                {"name": "shop", "write_key": SHOP_KEY, "allowed_origins": [pages.url]},
            ],
            "destinations": [
                {
                    "name": "custify",
                    "type": "custify",
                    "settings": {
                        "api_key": "sandbox-key",
                        "base_url": sandbox,
                        "page_and_screen": "track",
                    },
                }
            ],
            "connections": [{"source": "web", "destinations": ["custify"]}],
            "delivery": {"backoff_base_s": 0.05, "backoff_max_s": 0.5, "max_attempts": 1000},
            # Delivered events are kept, so that the tests can read them in the store.
            "store": {"retention_s": 3600},
        }
        csroute = CsrouteProcess(workdir, config).start()
        try:
            yield Pipeline(csroute, sandbox, pages.url, elsewhere.url)
        finally:
            csroute.stop()
