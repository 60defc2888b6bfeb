"""NUL characters on PostgreSQL, whose text columns refuse them: a 400 naming the field, never
a failed commit (which would refuse the other requests sharing it with a 503) or a 500."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import msgspec

from support.postgres import fresh_database
from support.process import CsrouteProcess
from support.servers import ServerThread

WRITE_KEY = "pg-hostile-write-key-0001"
ADMIN_TOKEN = "pg-hostile-admin-token-0002"


def test_nul_in_a_user_id_or_an_admin_name_is_a_400(tmp_path: Path) -> None:
    csroute = CsrouteProcess(
        tmp_path,
        {
            "store": {"backend": "postgres", "url": fresh_database()},
            "admin": {"token": ADMIN_TOKEN},
            "sources": [{"name": "app", "write_key": WRITE_KEY}],
        },
    ).start()
    try:
        batch = [
            {"type": "track", "userId": "a\u0000b", "event": "E"},
            {"type": "track", "userId": "good", "event": "E"},
        ]
        sent = httpx.post(f"{csroute.url}/v1/batch", auth=(WRITE_KEY, ""), json={"batch": batch})
        assert sent.status_code == 200, sent.text
        assert sent.json()["accepted"] == 1
        [rejected] = sent.json()["rejected"]
        assert (rejected["field"], rejected["rule"]) == ("batch[0].userId", "nul")
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        listed = httpx.get(f"{csroute.url}/admin/dead-letters?destination=a%00", headers=admin)
        assert listed.status_code == 400
        assert (listed.json()["field"], listed.json()["rule"]) == ("destination", "nul")
        forgotten = httpx.post(
            f"{csroute.url}/admin/forget", headers=admin, json={"user_id": "a\u0000b"}
        )
        assert forgotten.status_code == 400
        assert (forgotten.json()["field"], forgotten.json()["rule"]) == ("user_id", "nul")
    finally:
        csroute.stop()


async def _answers_with_nul(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A receiver refusing user ``nul``'s event with an error body that holds NUL characters
    (raw and escaped), and accepting every other event."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    refused = msgspec.json.decode(body)["userId"] == "nul"
    answer = b'{"error": "bad \\u0000 value \x00"}' if refused else b"{}"
    await send({"type": "http.response.start", "status": 400 if refused else 200, "headers": []})
    await send({"type": "http.response.body", "body": answer})


def test_a_destination_error_holding_nul_is_recorded_and_blocks_no_one(tmp_path: Path) -> None:
    with ServerThread(_answers_with_nul) as receiver:
        csroute = CsrouteProcess(
            tmp_path,
            {
                "store": {"backend": "postgres", "url": fresh_database()},
                "admin": {"token": ADMIN_TOKEN},
                "sources": [{"name": "app", "write_key": WRITE_KEY}],
                "destinations": [
                    {"name": "hook", "type": "webhook", "settings": {"url": receiver.url}}
                ],
                "connections": [{"source": "app", "destinations": ["hook"]}],
            },
        ).start()
        try:
            batch = [{"type": "track", "userId": u, "event": "E"} for u in ("nul", "ok", "ok")]
            sent = httpx.post(
                f"{csroute.url}/v1/batch", auth=(WRITE_KEY, ""), json={"batch": batch}
            )
            assert sent.status_code == 200, sent.text
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

            def settled() -> dict[str, Any]:
                status: dict[str, Any] = httpx.get(
                    f"{csroute.url}/admin/status", headers=admin
                ).json()["hook"]
                return status

            deadline = time.monotonic() + 60
            while (settled()["delivered"], settled()["dead"]) != (2, 1):
                assert time.monotonic() < deadline, settled()
                time.sleep(0.1)
            [letter] = httpx.get(f"{csroute.url}/admin/dead-letters", headers=admin).json()
            assert letter["user"] == "nul" and "\x00" not in letter["error"]
            assert "bad" in letter["error"]
        finally:
            csroute.stop()
