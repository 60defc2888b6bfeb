"""A destination that echoes its credentials back: the secret is masked on every path.

The receiver answers 400 with the request's ``Authorization`` in its body in every form it
travels in (as sent, the credential alone, Basic credentials decoded, URL-encoded). csroute
dead-letters the event; the secret must then appear nowhere: not in the stored dead letter,
not in ``csroute dlq show`` / ``dlq list``, not in the admin API (nor in what a refused
deletion reports), not in the logs.
"""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from support.process import CSROUTE, CsrouteProcess
from support.servers import ServerThread

WRITE_KEY = "secrets-write-key-0001"
ADMIN_TOKEN = "secrets-admin-token-0002"
HOOK_KEY = "hook-basic-key-secret-0003"
HOOK_AUTH = "Basic " + base64.b64encode(f"{HOOK_KEY}:".encode()).decode()
CUSTIFY_KEY = "custify-api-key-secret-0004"
SECRETS = [
    HOOK_KEY,
    HOOK_AUTH.split()[1],
    urllib.parse.quote(HOOK_KEY),
    CUSTIFY_KEY,
    base64.b64encode(f"{CUSTIFY_KEY}:".encode()).decode(),
]


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A receiver that refuses every request, quoting its credentials back."""
    while (await receive()).get("more_body"):
        pass
    auth = dict(scope["headers"]).get(b"authorization", b"").decode()
    credential = auth.partition(" ")[2]
    decoded = ""
    if auth.startswith("Basic "):
        decoded = base64.b64decode(credential).decode()
    token = decoded.partition(":")[0] or credential
    body = {
        "errors": [{"message": f"invalid credentials: {auth}"}],
        "message": f"key {token} refused (as Basic: {base64.b64encode(f'{token}:'.encode())!r})",
        "seen": {"authorization": auth, "decoded": decoded, "query": urllib.parse.quote(token)},
    }
    payload = msgspec.json.encode(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture
def running(tmp_path: Path) -> Iterator[CsrouteProcess]:
    with ServerThread(echo) as receiver:
        csroute = CsrouteProcess(
            tmp_path,
            {
                "admin": {"token": ADMIN_TOKEN},
                "logging": {"format": "json"},
                "sources": [{"name": "app", "write_key": WRITE_KEY}],
                "destinations": [
                    {
                        "name": "hook",
                        "type": "webhook",
                        "settings": {"url": receiver.url, "headers": {"Authorization": HOOK_AUTH}},
                    },
                    {
                        "name": "cfy",
                        "type": "custify",
                        "settings": {"api_key": CUSTIFY_KEY, "base_url": receiver.url},
                    },
                ],
                "connections": [{"source": "app", "destinations": ["hook", "cfy"]}],
            },
        ).start()
        try:
            yield csroute
        finally:
            csroute.stop()


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in {where}"


def test_an_echoed_credential_is_masked_everywhere(running: CsrouteProcess) -> None:
    csroute = running
    sent = httpx.post(
        f"{csroute.url}/v1/identify",
        auth=(WRITE_KEY, ""),
        json={"userId": "u1", "traits": {"email": "u1@example.com"}},
    )
    assert sent.status_code == 200
    admin = httpx.Client(
        base_url=f"{csroute.url}/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    deadline = time.monotonic() + 30
    while len(listed := admin.get("/dead-letters").json()) < 2:
        assert time.monotonic() < deadline, listed
        time.sleep(0.05)
    assert {d["destination"] for d in listed} == {"hook", "cfy"}
    assert_no_secret(admin.get("/dead-letters").text, "the admin API's list")
    for letter in listed:
        shown = admin.get(f"/dead-letters/{letter['id']}")
        assert shown.json()["response"], "the response is kept, masked"
        assert "invalid credentials" in shown.json()["response"]
        assert_no_secret(shown.text, "the admin API's dead letter")
        cli = subprocess.run(
            [*CSROUTE, "dlq", "show", str(letter["id"]), "--config", str(csroute.config_path)],
            capture_output=True,
            text=True,
            cwd=csroute.workdir,
            check=True,
        )
        assert "invalid credentials" in cli.stdout
        assert_no_secret(cli.stdout + cli.stderr, "csroute dlq show")
    cli = subprocess.run(
        [*CSROUTE, "dlq", "list", "--json", "--config", str(csroute.config_path)],
        capture_output=True,
        text=True,
        cwd=csroute.workdir,
        check=True,
    )
    assert_no_secret(cli.stdout + cli.stderr, "csroute dlq list")
    with contextlib.closing(sqlite3.connect(csroute.workdir / "data" / "events.db")) as db:
        rows = db.execute("SELECT * FROM dead_letters").fetchall()
    assert len(rows) == 2
    stored = repr(rows)
    assert "invalid credentials" in stored
    assert_no_secret(stored, "the stored dead letters")
    # Forgetting the user also drops their dead letters: so it comes last.
    forgotten = admin.post("/forget", json={"user_id": "u1", "destinations": ["cfy"]})
    assert forgotten.status_code == 502  # the receiver refuses the deletion, quoting the key
    assert "invalid credentials" in forgotten.json()[0]["error"]
    assert_no_secret(forgotten.text, "the admin API's forget")
    csroute.stop()
    log = csroute.log.read_text()
    assert "dead-lettered" in log
    assert_no_secret(log, "the logs")
