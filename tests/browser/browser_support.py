"""What the browser and Node.js SDK tests share: the running pipeline and how to check it."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from e2e.test_pipeline import wait_for
from support.process import CsrouteProcess

HERE = Path(__file__).parent
WRITE_KEY = "wk_browser_7d41c0e2"
SHOP_KEY = "wk_shop_3a90f7"  # a source that takes browser requests from `pages` only
DEADLINE_S = 60  # for events to reach the store and the sandbox: generous, only a ceiling


@dataclass
class Pipeline:
    csroute: CsrouteProcess
    sandbox: str
    pages: str  # the origin serving the test pages: not csroute's
    elsewhere: str  # another origin serving the same pages

    def stored(self, user: str) -> list[dict[str, Any]]:
        """The user's events in csroute's store, in order, as stored."""
        db = self.csroute.workdir / "data" / "events.db"
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            rows = conn.execute(
                "SELECT payload FROM events WHERE user_key = ? ORDER BY seq", (user,)
            ).fetchall()
        return [json.loads(payload) for (payload,) in rows]

    def custify(self) -> dict[str, Any]:
        state: dict[str, Any] = httpx.get(f"{self.sandbox}/__sandbox/state").json()
        return state

    def wait_for_user(self, user: str) -> None:
        """Wait until the user's four calls are stored and delivered, then check both."""
        company = f"{user}-co"

        def arrived() -> bool:
            if {e["type"] for e in self.stored(user)} != {"identify", "group", "track", "page"}:
                return False
            state = self.custify()
            person = next((p for p in state["people"] if p["user_id"] == user), None)
            names = {e["name"] for e in state["events"] if person and e["people"] == person["id"]}
            return (
                bool(person and person["companies"])
                and {
                    "Report Exported",
                    "Viewed Pricing Page",
                }
                <= names
            )

        wait_for(arrived, timeout=DEADLINE_S)
        stored = self.stored(user)
        assert sorted(e["type"] for e in stored) == ["group", "identify", "page", "track"]
        by_type = {e["type"]: e for e in stored}
        identify = by_type["identify"]
        # RudderStack's SDK sends identify traits in context.traits, Segment's at the top.
        traits = identify.get("traits") or identify["context"]["traits"]
        assert traits["email"] == f"{user}@example.com"
        assert by_type["group"]["groupId"] == company
        assert by_type["track"]["event"] == "Report Exported"
        assert by_type["track"]["properties"]["format"] == "csv"
        assert by_type["page"]["name"] == "Pricing"
        for e in stored:
            assert e["userId"] == user and e["messageId"] and e["receivedAt"]
            assert "writeKey" not in e

        state = self.custify()
        person = next(p for p in state["people"] if p["user_id"] == user)
        assert person["email"] == f"{user}@example.com"
        assert person["name"] == f"Person {user}"
        (company_row,) = [c for c in state["companies"] if c["company_id"] == company]
        assert company_row["name"] == f"Company of {user}"
        assert person["companies"] == [company_row["id"]]
        events = {e["name"]: e for e in state["events"] if e["people"] == person["id"]}
        assert events["Report Exported"]["metadata"]["format"] == "csv"
        assert "Viewed Pricing Page" in events
