"""One Custify sandbox and one ``csroute serve`` with the console for the module, one browser."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from csroute.custify.sandbox import create_app, running
from support.chromium import chromium
from support.process import CsrouteProcess, app_to_custify

WRITE_KEY = "console-write-key-0001"
API_KEY = "console-custify-api-key-0002"
ADMIN_TOKEN = "console-admin-token-0003"
ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclass
class Console:
    csroute: CsrouteProcess
    sandbox: str


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("console")
    with running(create_app(api_keys=(API_KEY,), rate_limit=None)) as sandbox:
        process = CsrouteProcess(
            workdir,
            app_to_custify(
                WRITE_KEY,
                API_KEY,
                sandbox,
                admin={"token": ADMIN_TOKEN},
                # one failure is final, so that a fault makes a dead letter at once
                delivery={"max_attempts": 1, "max_retry_age_s": 0},
            ),
        ).start()
        try:
            yield Console(process, sandbox)
        finally:
            process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page, console: Console) -> None:
    page.goto(f"{console.csroute.url}/console/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def shows_no_secret(page: Page) -> None:
    html = page.content()
    assert API_KEY not in html and WRITE_KEY not in html and ADMIN_TOKEN not in html


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
