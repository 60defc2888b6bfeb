"""The ``csroute`` command line, invoked as users invoke it (through Typer's runner)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from typer.testing import CliRunner

from csroute.cli import app
from csroute.events.model import NewEvent
from csroute.store.base import DeadLetter, Round
from csroute.store.sqlite import SQLiteStore

runner = CliRunner()


def write_config(tmp_path: Path, **overrides: Any) -> Path:
    doc: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "sources": [{"name": "web", "write_key": "wk-live-0123456789"}],
        "destinations": [
            {"name": "hook", "type": "webhook", "settings": {"url": "http://127.0.0.1:9/x"}}
        ],
        "connections": [{"source": "web", "destinations": ["hook"]}],
        **overrides,
    }
    path = tmp_path / "csroute.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_config_check_summarises_with_the_write_key_masked(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", "--config", str(write_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "configuration OK" in result.output
    assert "wk…89" in result.output
    assert "wk-live-0123456789" not in result.output


def test_config_check_names_every_problem_by_key(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        destinations=[
            {"name": "hook", "type": "webhook", "settings": {"url": "ftp://x", "batch_size": 0}},
            {"name": "x", "type": "nosuch"},
        ],
        connections=[{"source": "mobile", "destinations": ["hook", "gone"]}],
    )
    result = runner.invoke(app, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2
    for expected in (
        "destinations[0].settings.url: must start with http:// or https://",
        "destinations[0].settings.batch_size: must be at least 1",
        "destinations[1].type: unknown destination type 'nosuch'",
        "connections[0].source: no source named 'mobile'",
        "connections[0].destinations[1]: no destination named 'gone'",
    ):
        assert expected in result.output


def test_config_check_reports_unknown_keys_and_unset_variables(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sources: [{name: web, write_key: '${NOT_SET_ANYWHERE_42}'}]\nsurces: []\n")
    result = runner.invoke(app, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2
    assert (
        "sources[0].write_key: environment variable NOT_SET_ANYWHERE_42 is not set" in result.output
    )
    assert "surces: unknown key (did you mean sources?)" in result.output


def transform(args: list[str], lines: list[Any], exit_code: int = 0) -> list[dict[str, Any]]:
    text = "\n".join(x if isinstance(x, str) else msgspec.json.encode(x).decode() for x in lines)
    result = runner.invoke(app, ["transform", *args], input=text + "\n")
    assert result.exit_code == exit_code, result.output
    return [msgspec.json.decode(line) for line in result.output.splitlines()]


def test_transform_prints_one_line_per_event_in_the_stable_shape() -> None:
    settings = '{"url": "http://127.0.0.1:9/in", "headers": {"X-Token": "t"}}'
    event = {"type": "track", "userId": "u1", "event": "Signed Up"}
    out = transform(
        ["--destination", "webhook", "--settings", settings, "--show-secrets"],
        [event, "{not json", "[1, 2]"],
        exit_code=1,  # some events were refused: a script can tell
    )
    assert out[0] == {
        "requests": [
            {
                "method": "POST",
                "url": "http://127.0.0.1:9/in",
                "headers": {"Content-Type": "application/json", "X-Token": "t"},
                "params": {},
                "body": event,
            }
        ]
    }
    assert out[1]["status"] == 400 and out[1]["error"].startswith("line 2: invalid event")
    assert out[2] == {
        "error": "line 3: invalid event: an event must be a JSON object",
        "status": 400,
    }


def test_transform_masks_configured_webhook_headers() -> None:
    settings = '{"url": "http://127.0.0.1:9/in", "headers": {"X-Token": "t"}}'
    (out,) = transform(
        ["--destination", "webhook", "--settings", settings],
        [{"type": "track", "userId": "u1", "event": "E"}],
    )
    headers = out["requests"][0]["headers"]
    assert headers == {"Content-Type": "application/json", "X-Token": "****"}


def test_transform_masks_credentials_unless_asked_to_show_them() -> None:
    args = ["--destination", "custify", "--settings", '{"api_key": "cs-live-0123456789"}']
    event = {"type": "identify", "userId": "u1", "traits": {"email": "a@b.co"}}
    (masked,) = transform(args, [event])
    assert masked["requests"][0]["headers"]["Authorization"] == "Bearer cs…89"
    (shown,) = transform([*args, "--show-secrets"], [event])
    assert shown["requests"][0]["headers"]["Authorization"] == "Bearer cs-live-0123456789"


def test_transform_custify_group_is_two_requests_company_first() -> None:
    out = transform(
        ["--destination", "custify", "--settings", '{"api_key": "k-123"}'],
        [
            {
                "type": "group",
                "userId": "u1",
                "groupId": "acme",
                "traits": {"name": "Acme"},
                "timestamp": "2026-01-01T00:00:00Z",
                "messageId": "m1",
            }
        ],
    )
    urls = [r["url"] for r in out[0]["requests"]]
    assert urls == ["https://api.custify.com/company", "https://api.custify.com/people"]


def test_transform_reports_rejections_with_the_destinations_message() -> None:
    out = transform(
        ["--destination", "custify", "--settings", '{"api_key": "k"}'],
        [{"type": "track", "userId": "u1", "timestamp": "2026-01-01T00:00:00Z"}],
        exit_code=1,
    )
    assert out == [{"error": 'Missing required value from "event"', "status": 400}]


def test_transform_refuses_bad_settings_naming_the_key(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["transform", "--destination", "webhook", "--settings", "{}"], input=""
    )
    assert result.exit_code == 2
    assert "url" in result.output
    settings = tmp_path / "s.json"
    settings.write_text('{"url": "http://127.0.0.1:9/"}')
    result = runner.invoke(
        app,
        ["transform", "--destination", "webhook", "--settings", f"@{settings}"],
        input='{"type":"track","userId":"u","event":"E"}\n',
    )
    assert result.exit_code == 0 and '"requests"' in result.output
    result = runner.invoke(app, ["transform", "--destination", "nope", "--settings", "{}"])
    assert result.exit_code == 2 and "unknown type 'nope'" in result.output


@pytest.fixture
def dead_letters(tmp_path: Path) -> Path:
    """A store with two dead letters for destination ``hook``."""
    config = write_config(tmp_path)

    async def fill() -> None:
        (tmp_path / "data").mkdir()
        store = await SQLiteStore.open(tmp_path / "data" / "events.db")
        events = [
            {"type": "track", "userId": "u1", "event": "E", "properties": {"n": n}}
            for n in range(2)
        ]
        await store.append([NewEvent("web", "u1", "track", msgspec.json.encode(e)) for e in events])
        await store.record(
            Round(
                "hook",
                1.0,
                cursor=2,
                dead=[
                    DeadLetter(1, "u1", 1, "HTTP 400: bad", b'[{"url": "x"}]', 400, b"bad"),
                    DeadLetter(2, "u1", 1, "HTTP 400: worse", None, 400, b"worse"),
                ],
            )
        )
        await store.close()

    asyncio.run(fill())
    return config


def test_dlq_list_show_replay_discard(dead_letters: Path) -> None:
    config = ["--config", str(dead_letters)]
    listed = runner.invoke(app, ["dlq", "list", "--json", *config])
    assert listed.exit_code == 0, listed.output
    rows = [msgspec.json.decode(line) for line in listed.output.splitlines()]
    assert [(r["seq"], r["error"]) for r in rows] == [(1, "HTTP 400: bad"), (2, "HTTP 400: worse")]

    for bad in (["--limit", "-1"], ["--limit", "0"], ["--limit", "1001"], ["--after-id", "-1"]):
        refused = runner.invoke(app, ["dlq", "list", *bad, *config])
        assert refused.exit_code == 2, refused.output  # a bounded page, never "no limit"

    shown = runner.invoke(app, ["dlq", "show", str(rows[0]["id"]), *config])
    detail = msgspec.json.decode(shown.output)
    assert detail["event"]["properties"] == {"n": 0} and detail["response"] == "bad"
    assert runner.invoke(app, ["dlq", "show", "999", *config]).exit_code == 1

    replayed = runner.invoke(app, ["dlq", "replay", str(rows[0]["id"]), *config])
    assert "replayed 1 dead letter(s)" in replayed.output
    assert runner.invoke(app, ["dlq", "replay", *config]).exit_code == 2  # nothing named

    refused = runner.invoke(app, ["dlq", "discard", "--all", *config], input="n\n")
    assert refused.exit_code == 1
    discarded = runner.invoke(app, ["dlq", "discard", "--all", "--yes", *config])
    assert "discarded 1 dead letter(s)" in discarded.output

    status = runner.invoke(app, ["status", "--json", *config])
    report = msgspec.json.decode(status.output)["hook"]
    assert (report["dead"], report["retrying"]) == (0, 1)


def test_status_table_says_why_events_are_dead(dead_letters: Path) -> None:
    status = runner.invoke(app, ["status", "--config", str(dead_letters)])
    assert status.exit_code == 0, status.output
    assert "why" in status.output
    assert "dead: HTTP 400: bad (1)" in status.output
    assert "dead: HTTP 400: worse (1)" in status.output
    report = msgspec.json.decode(
        runner.invoke(app, ["status", "--json", "--config", str(dead_letters)]).output
    )["hook"]
    assert report["dead_by_error"] == {"HTTP 400: bad": 1, "HTTP 400: worse": 1}


def test_dlq_tables_show_local_iso_times_and_empty_cells(tmp_path: Path) -> None:
    config = write_config(tmp_path)

    async def fill() -> None:
        (tmp_path / "data").mkdir()
        store = await SQLiteStore.open(tmp_path / "data" / "events.db")
        payload = msgspec.json.encode({"type": "track", "userId": "u1", "event": "E"})
        await store.append([NewEvent("web", "u1", "track", payload)])
        dead = [DeadLetter(1, "u1", 4, "no answer (timed out)", None, None, None)]
        await store.record(Round("hook", 1_767_225_600.0, cursor=1, dead=dead))
        await store.close()

    asyncio.run(fill())
    env = {**os.environ, "TZ": "XYZ-2"}  # two hours east of UTC, in POSIX spelling

    def csroute(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "csroute", *args, "-c", str(config)]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    listed = csroute("dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert "2026-01-01T02:00:00+02:00" in listed.stdout
    assert "None" not in listed.stdout and " - " not in listed.stdout
    row = next(line for line in listed.stdout.splitlines() if "u1" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")][5] == ""  # no HTTP status
    shown = csroute("dlq", "show", "1")
    assert msgspec.json.decode(shown.stdout)["created_at"] == "2026-01-01T02:00:00+02:00"
    empty = csroute("dlq", "list", "--destination", "nobody")
    assert empty.stdout.strip() == "no dead letters for nobody"
