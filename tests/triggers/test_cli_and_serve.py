"""``csroute triggers list|test|reset``, and triggers running inside ``csroute serve``."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from triggers_support import API_KEY, Sandbox
from typer.testing import CliRunner

from csroute.cli.main import app
from csroute.config import load
from csroute.store.sqlite import SQLiteStore
from csroute.triggers.runner import Triggers
from support.process import CsrouteProcess
from support.receiver import Receiver
from support.servers import ServerThread


def config(sandbox: Sandbox, data: Path, triggers: dict[str, Any]) -> dict[str, Any]:
    return {
        "data_dir": str(data),
        "sources": [{"name": "custify", "write_key": "wk"}],
        "custify_connections": {"sandbox": {"api_key": API_KEY, "base_url": sandbox.url}},
        "triggers": triggers,
    }


def cli(path: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["triggers", *args, "--config", str(path)])


def test_list_test_and_reset(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "csroute.yaml"
    triggers = {
        "tickets": {"type": "Ticket Created", "track": {"source": "custify"}},
        "files": {
            "type": "file_created",
            "scope": {"each_company": True},
            "webhook": "http://127.0.0.1:9/never",
            "enabled": False,
        },
    }
    path.write_text(yaml.safe_dump(config(sandbox, tmp_path / "data", triggers)))
    made = sandbox.create("ticket", 2)
    assert cli(path, "list").exit_code == 3  # never creates a store; says where it looked
    migrated = CliRunner().invoke(app, ["db", "migrate", "--config", str(path)])
    assert migrated.exit_code == 0, migrated.output

    listed = cli(path, "list")
    assert listed.exit_code == 0, listed.output
    assert re.search(
        r"tickets\s.*Ticket Created\s.*60 s\s.*track from custify\s.*not started", listed.output
    )
    assert re.search(r"files \(disabled\)\s.*File Created\s.*webhook", listed.output)

    tested = cli(path, "test", "tickets")
    assert tested.exit_code == 0, tested.output
    shown = json.loads(tested.output)
    assert [s["id"] for s in shown["samples"]] == made[::-1]  # newest first
    assert shown["shape"]["type"] == "ticket_created"
    assert {"externalId", "openedAt", "lastModifiedAt"} <= set(shown["shape"]["record"])
    assert "not started" in cli(path, "list").output  # a test moves no cursor

    since = sandbox.state.tickets[made[1]]["openedAt"]
    reset = cli(path, "reset", "tickets", "--since", since)
    assert reset.exit_code == 0, reset.output
    assert f"starts from {since}" in reset.output

    async def poll() -> list[str]:
        store = await SQLiteStore.open(tmp_path / "data" / "events.db")
        got: list[str] = []
        running = Triggers(load(path), store)
        try:
            await running.running["tickets"].poller.poll(lambda out: _append(got, out["id"]))
        finally:
            await running.stop()
            await store.close()
        return got

    assert asyncio.run(poll()) == made[1:]

    unknown = cli(path, "test", "nope")
    assert unknown.exit_code == 2
    assert "no trigger named 'nope'" in unknown.output


async def _append(into: list[str], value: str) -> None:
    into.append(value)


def _polls(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    found = re.findall(r'csroute_trigger_polls_total\{outcome="ok",trigger="notes"\} (\S+)', text)
    return float(found[0]) if found else 0.0


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_serve_polls_at_start_and_receives_pushes(sandbox: Sandbox, tmp_path: Path) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as downstream:
        notes = {
            "type": "note_created",
            "interval_s": 3600,
            "since": "2000-01-01T00:00:00Z",
            "webhook": downstream.url,
            "push": {"secret": "s3cret"},
        }
        csroute = CsrouteProcess(tmp_path, config(sandbox, tmp_path / "data", {"notes": notes}))
        polled = sandbox.create("note", 1)  # found by the first poll (since 2000)
        csroute.start()
        try:
            _until(lambda: len(receiver.bodies) == 1, "the polled note")
            hook = {
                "url": f"{csroute.url}/triggers/notes/webhook",
                "secret": "s3cret",
                "events": ["note.created"],
            }
            assert sandbox.http.post("/__sandbox/webhooks", json=hook).status_code == 200
            pushed = sandbox.create("note", 1)
            _until(lambda: len(receiver.bodies) == 2, "the pushed note")
            _until(lambda: _polls(csroute.url) >= 1, "the first poll to finish")
            assert _polls(csroute.url) == 1  # the note was pushed, not polled
        finally:
            csroute.stop()

    assert [(b["id"], b["via"]) for b in receiver.bodies] == [
        (polled[0], "poll"),
        (pushed[0], "push"),
    ]
    assert "trigger 'notes' (note_created) every 3600 s" in csroute.log.read_text()
