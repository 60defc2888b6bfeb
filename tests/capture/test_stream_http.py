"""The live capture over HTTP (``/admin/stream``) and in the terminal (``csroute tail``), from a
real ``csroute serve`` delivering to the Custify sandbox."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from csroute.custify.sandbox import create_app, running
from support.process import CSROUTE, CsrouteProcess, app_to_custify

WRITE_KEY = "stream-write-key-0001"
API_KEY = "stream-custify-api-key-0002"
ADMIN_TOKEN = "stream-admin-token-0003"
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def csroute(tmp_path: Path) -> Iterator[CsrouteProcess]:
    with running(create_app(api_keys=(API_KEY,), rate_limit=None)) as sandbox:
        process = CsrouteProcess(
            tmp_path,
            app_to_custify(
                WRITE_KEY,
                API_KEY,
                sandbox,
                admin={"token": ADMIN_TOKEN},
                capture={"mask_fields": ["phone"]},
            ),
        ).start()
        try:
            yield process
        finally:
            process.stop()


def records(lines: Iterator[str], until: Any) -> list[dict[str, Any]]:
    """Records read from a stream until ``until(record)`` holds for one."""
    got: list[dict[str, Any]] = []
    for line in lines:
        if line.startswith("data: "):
            got.append(json.loads(line[6:]))
            if until(got[-1]):
                return got
    raise AssertionError(f"the stream ended early: {got}")


def run_tail(csroute: CsrouteProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CSROUTE, "tail", "-c", str(csroute.config_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def identify(csroute: CsrouteProcess) -> None:
    response = httpx.post(
        f"{csroute.url}/v1/identify",
        auth=(WRITE_KEY, ""),
        json={
            "userId": "ann",
            "traits": {"email": "ann@example.com", "phone": "+33 6 12 34 56 78"},
            "context": {"note": f"copied key {WRITE_KEY}"},
        },
    )
    assert response.status_code == 200, response.text


def test_an_event_is_seen_received_and_delivered_with_no_secret_shown(
    csroute: CsrouteProcess,
) -> None:
    url = f"{csroute.url}/admin/stream"
    with httpx.stream("GET", url, headers=AUTH, timeout=httpx.Timeout(30.0)) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == ": live"  # watching from here on
        identify(csroute)
        got = records(lines, lambda r: r.get("outcome") == "delivered")
        # tail, connected later, gets the same records from the rings and stops after them
        tail = run_tail(csroute, "--user", "ann", "--count", "2")
        tail_json = run_tail(csroute, "--outcome", "delivered", "--count", "1", "--json")
    received, delivered = got[0], got[-1]
    assert (received["outcome"], received["source"], received["user"]) == ("received", "app", "ann")
    assert received["payload"]["traits"]["email"] == "ann@example.com"
    assert received["payload"]["traits"]["phone"] == "+3…78"  # capture.mask_fields
    assert (delivered["destination"], delivered["status"], delivered["attempt"]) == (
        "custify",
        200,
        1,
    )
    request = delivered["requests"][0]
    assert request["url"].endswith("/people") and request["body"]["user_id"] == "ann"
    assert (
        request["headers"]["Authorization"].startswith("Bearer ")
        and "…" in request["headers"]["Authorization"]
    )
    assert '"user_id":"ann"' in delivered["response"].replace(" ", "")
    assert tail.returncode == 0, tail.stderr
    assert "received" in tail.stdout and "delivered" in tail.stdout and "HTTP 200" in tail.stdout
    assert "app → custify" in tail.stdout and "user ann" in tail.stdout
    assert json.loads(tail_json.stdout)["requests"] == delivered["requests"]
    for shown in (json.dumps(got), tail.stdout, tail_json.stdout):
        assert API_KEY not in shown and WRITE_KEY not in shown
        assert "+33 6 12 34 56 78" not in shown


def test_the_stream_needs_the_admin_token_and_valid_filters(csroute: CsrouteProcess) -> None:
    url = f"{csroute.url}/admin/stream"
    assert httpx.get(url).status_code == 401
    wrong = httpx.get(url, headers={"authorization": "Bearer wrong-token-0000000"})
    assert wrong.status_code == 401
    bad = httpx.get(url, headers=AUTH, params={"outcome": "lost"})
    assert bad.status_code == 400 and "outcome must be one of" in bad.json()["error"]
    assert (bad.json()["field"], bad.json()["rule"]) == ("outcome", "enum")
    unknown = httpx.get(url, headers=AUTH, params={"colour": "red"})
    assert unknown.status_code == 400 and "'colour'" in unknown.json()["error"]
    assert (unknown.json()["field"], unknown.json()["rule"]) == ("colour", "unknown_parameter")
    tail = run_tail(csroute, "--url", csroute.url, "--outcome", "lost")
    assert tail.returncode == 2 and "outcome must be one of" in tail.stderr
