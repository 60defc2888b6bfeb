"""Debian's Chromium driven by Playwright for Python, for every browser test folder."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> Path:
    spec = importlib.util.spec_from_file_location("chromium", ROOT / "scripts" / "chromium.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    try:
        path: Path = script.find_chromium()
    except script.Unavailable as e:
        pytest.fail(str(e))
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless browser. Use one per test module: Playwright's sync API keeps an event loop
    marked running in this thread while it is started, which would break every later test that
    runs one."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(_chromium()), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
