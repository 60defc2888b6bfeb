"""Deleting a user from the CLI, against the Custify sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import msgspec
import yaml
from typer.testing import CliRunner

from csroute.cli import app
from csroute.custify.sandbox.server import running
from csroute.events.model import NewEvent
from csroute.store.base import Retry, Round
from csroute.store.sqlite import SQLiteStore

runner = CliRunner()
KEY = "sandbox-key"


def config_for(tmp_path: Path, base_url: str, api_key: str = KEY) -> Path:
    doc: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "sources": [{"name": "web", "write_key": "wk-0123456789"}],
        "destinations": [
            {
                "name": "cs",
                "type": "custify",
                "settings": {"api_key": api_key, "base_url": base_url},
            },
            {"name": "hook", "type": "webhook", "settings": {"url": "http://127.0.0.1:9/"}},
        ],
        "connections": [{"source": "web", "destinations": ["cs", "hook"]}],
    }
    path = tmp_path / "csroute.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def queue_event_for(tmp_path: Path, user: str) -> None:
    async def go() -> None:
        (tmp_path / "data").mkdir(exist_ok=True)
        store = await SQLiteStore.open(tmp_path / "data" / "events.db")
        payload = msgspec.json.encode({"type": "track", "userId": user, "event": "E"})
        await store.append([NewEvent("web", user, "track", payload)])
        await store.record(Round("cs", 1.0, cursor=1, retry=[Retry(1, user, 1, 9e9, 1.0, "503")]))
        await store.close()

    asyncio.run(go())


def lines(output: str) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line) for line in output.splitlines() if line.startswith("{")]


def test_custify_forget_deletes_the_person_and_drops_their_queue(tmp_path: Path) -> None:
    with running(rate_limit=None) as sandbox:
        auth = {"Authorization": f"Bearer {KEY}"}
        httpx.post(
            f"{sandbox}/people", headers=auth, json={"user_id": "u1", "email": "u1@example.com"}
        ).raise_for_status()
        queue_event_for(tmp_path, "u1")
        config = config_for(tmp_path, sandbox)

        result = runner.invoke(
            app, ["custify", "forget", "--user-id", "u1", "--config", str(config)]
        )
        assert result.exit_code == 0, result.output
        assert lines(result.output) == [
            {"destination": "cs", "dropped": 1, "deleted": True, "error": None, "note": None}
        ]
        assert httpx.get(f"{sandbox}/people", headers=auth, params={"user_id": "u1"}).json() == []

        # Nothing left to delete: Custify answers 404, which counts as done.
        again = runner.invoke(
            app, ["custify", "forget", "--user-id", "u1", "--config", str(config)]
        )
        assert lines(again.output) == [
            {"destination": "cs", "dropped": 0, "deleted": True, "error": None, "note": None}
        ]
        # The generic command also stops the webhook's queue (which has no deletion API).
        both = runner.invoke(app, ["forget", "--user-id", "u1", "--config", str(config)])
        assert [(r["destination"], r["deleted"]) for r in lines(both.output)] == [
            ("cs", True),
            ("hook", False),
        ]


def test_a_failed_deletion_says_why_without_the_key(tmp_path: Path) -> None:
    with running(rate_limit=None) as sandbox:
        config = config_for(tmp_path, sandbox, api_key="wrong-key-abcdef123")
        result = runner.invoke(
            app, ["custify", "forget", "--user-id", "u1", "--config", str(config)]
        )
    assert result.exit_code == 1
    (row,) = lines(result.output)
    assert row["deleted"] is False and row["error"].startswith("HTTP 401")
    assert "wrong-key-abcdef123" not in result.output


def test_forget_refuses_an_unknown_destination(tmp_path: Path) -> None:
    config = config_for(tmp_path, "http://127.0.0.1:9")
    result = runner.invoke(
        app, ["forget", "--user-id", "u1", "--destination", "nope", "--config", str(config)]
    )
    assert result.exit_code == 2 and "no destination named 'nope'" in result.output


def test_forget_on_kustomer_says_why_it_cannot_delete_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "csroute.yaml"
    path.write_text(
        "destinations:\n"
        "  - {name: kus, type: kustomer, settings: {org_name: acme, api_key: k,"
        " base_url: 'http://127.0.0.1:9'}}\n"
    )
    result = runner.invoke(app, ["forget", "--user-id", "u1", "--config", str(path)])
    assert result.exit_code == 0, result.output
    (row,) = lines(result.stdout)
    assert row["deleted"] is False and row["error"] is None
    assert row["note"].startswith("Kustomer's tracking API cannot delete customers; delete the")
    assert "kus: not deleted: Kustomer's tracking API cannot delete customers" in result.stderr
