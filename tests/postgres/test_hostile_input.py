"""NUL characters on PostgreSQL, whose text columns refuse them: a 400 naming the field, never
a failed commit (which would refuse the other requests sharing it with a 503) or a 500."""

from __future__ import annotations

from pathlib import Path

import httpx

from support.postgres import fresh_database
from support.process import CsrouteProcess

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
