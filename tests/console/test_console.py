"""The web console in headless Chromium against a real ``csroute serve`` and the Custify
sandbox: logging in, the live view, a failure's reason, replaying a dead letter, the transform
preview, and no secret in any page."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from console.conftest import (
    ADMIN_TOKEN,
    API_KEY,
    WRITE_KEY,
    Console,
    log_in,
    screenshot,
    shows_no_secret,
)
from e2e.test_pipeline import wait_for


def identify(console: Console, user: str) -> None:
    response = httpx.post(
        f"{console.csroute.url}/v1/identify",
        auth=(WRITE_KEY, ""),
        json={
            "userId": user,
            "traits": {"email": f"{user}@example.com", "name": "<b>Ann</b>"},
            "context": {"note": f"copied key {WRITE_KEY}"},
        },
    )
    assert response.status_code == 200, response.text


def in_custify(console: Console, user: str) -> bool:
    people = httpx.get(
        f"{console.sandbox}/people",
        params={"user_id": user},
        headers={"authorization": f"Bearer {API_KEY}"},
    )
    return bool(people.json())


def dead_letters_of(console: Console, user: str) -> list[dict[str, object]]:
    letters = httpx.get(
        f"{console.csroute.url}/admin/dead-letters",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    ).json()
    return [d for d in letters if d["user"] == user]


def test_a_wrong_token_is_refused(page: Page, console: Console) -> None:
    page.goto(f"{console.csroute.url}/console/live")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()  # no session: login
    page.get_by_label("Admin token").fill("not-the-admin-token-000")
    with page.expect_response(re.compile(r"/console/login$")) as answer:
        page.get_by_role("button", name="Log in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_contain_text("Wrong admin token")
    assert not [c for c in page.context.cookies() if c["name"] == "csroute_console"]
    screenshot(page, "login")
    endless = httpx.post(
        f"{console.csroute.url}/console/login",
        content=b"token=" + b"x" * (2 << 20),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert endless.status_code == 413 and "a form is at most" in endless.text


def test_the_session_cookie_is_httponly_strict_and_not_the_token(
    page: Page, console: Console
) -> None:
    log_in(page, console)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "csroute_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert ADMIN_TOKEN not in cookie["value"]
    # a form posted without the session's CSRF token is refused, cookie or not
    refused = page.request.post(
        f"{console.csroute.url}/console/dead-letters/discard", form={"id": "1"}
    )
    assert refused.status == 403
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    assert csrf
    too_big = page.request.post(
        f"{console.csroute.url}/console/dead-letters/discard",
        form={"id": "9" * 19, "csrf": csrf},
    )
    assert too_big.status == 400 and "id must be between 1 and" in too_big.text()


def test_an_event_appears_live_with_its_request_and_the_response(
    page: Page, console: Console
) -> None:
    log_in(page, console)
    page.get_by_role("link", name="live").click()
    expect(page.locator("#live-state")).to_have_text("live")
    page.get_by_label("user").fill("ann")
    page.get_by_role("button", name="Apply filter").click()
    expect(page.locator("#live-state")).to_have_text("live")
    identify(console, "bob")  # filtered out
    # bob is delivered before ann is sent: both were captured, one request each
    wait_for(lambda: in_custify(console, "bob"))
    identify(console, "ann")
    delivered = page.locator("li.record[data-outcome=delivered]")
    expect(delivered).to_contain_text("app → custify")
    expect(delivered).to_contain_text("HTTP 200")
    expect(page.locator("li.record[data-outcome=received]")).to_contain_text("user ann")
    delivered.get_by_text("details").click()
    expect(delivered).to_contain_text("request: POST")
    expect(delivered).to_contain_text("/people")
    expect(delivered.locator("pre.request")).to_contain_text('"user_id": "ann"')
    expect(delivered.locator("pre.response")).to_contain_text('"user_id":"ann"')
    expect(page.locator("li.record", has_text="user bob")).to_have_count(0)
    # the hostile trait is text, not markup
    expect(page.locator("li.record b")).to_have_count(0)
    shows_no_secret(page)
    screenshot(page, "live")


def test_a_failure_shows_its_reason_and_its_dead_letter_is_replayed(
    page: Page, console: Console
) -> None:
    faults = httpx.post(f"{console.sandbox}/__sandbox/faults", json={"script": [503]})
    assert faults.status_code == 200
    log_in(page, console)
    page.get_by_role("link", name="live").click()
    expect(page.locator("#live-state")).to_have_text("live")
    page.get_by_role("button", name="Pause").click()
    identify(console, "cid")
    wait_for(lambda: dead_letters_of(console, "cid"))  # its records were captured by now
    expect(page.locator("#live-state")).to_contain_text("waiting")
    dead = page.locator("li.record[data-outcome=dead-lettered]")
    expect(dead).to_have_count(0)  # held while paused
    page.get_by_role("button", name="Resume").click()
    expect(dead).to_contain_text("reason: gave up after 1 attempts: HTTP 503")
    page.get_by_role("link", name="overview").click()
    expect(page.get_by_role("table", name="Destinations")).to_contain_text("HTTP 503")
    shows_no_secret(page)
    screenshot(page, "overview")
    page.get_by_role("link", name="dead letters").click()
    row = page.get_by_role("row", name=re.compile("cid"))
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Request")).to_be_visible()
    expect(page.locator("pre").first).to_contain_text("/people")
    expect(page.locator("pre").nth(1)).to_contain_text("Service Unavailable")  # the response
    shows_no_secret(page)
    screenshot(page, "dead-letter")
    page.get_by_role("link", name="dead letters").click()
    shows_no_secret(page)
    screenshot(page, "dead-letters")
    questions: list[str] = []
    page.once("dialog", lambda d: (questions.append(d.message), d.accept()))
    page.get_by_role("row", name=re.compile("cid")).get_by_role(
        "button", name=re.compile("replay")
    ).click()
    expect(page.get_by_role("row", name=re.compile("cid"))).to_have_count(0)
    assert questions and questions[0].startswith("Replay dead letter #")


def test_the_transform_preview_shows_the_exact_requests_with_secrets_masked(
    page: Page, console: Console
) -> None:
    log_in(page, console)
    page.get_by_role("link", name="transform").click()
    page.get_by_label("destination").select_option("custify")
    page.get_by_label("event (JSON)").fill(
        '{"type": "track", "userId": "dee", "event": "Signed Up", '
        '"timestamp": "2026-01-02T03:04:05Z", "properties": {"plan": "pro"}}'
    )
    page.get_by_role("button", name="Preview").click()
    requests = page.locator("#requests")
    expect(requests).to_contain_text('"url":')
    expect(requests).to_contain_text("/event")
    expect(requests).to_contain_text("Signed Up")
    expect(requests).to_contain_text("Bearer ")
    shows_no_secret(page)
    screenshot(page, "transform")
    page.get_by_label("event (JSON)").fill("{not json")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid JSON")
