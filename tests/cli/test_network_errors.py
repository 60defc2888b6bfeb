"""A call that gets no answer: one message (method, URL, cause, attempts), exit 3, quickly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.servers import free_port


def csroute(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "csroute", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unreachable_custify_api_names_the_call_the_cause_and_the_attempts(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    config = tmp_path / "csroute.yaml"
    config.write_text(
        "custify_connections:\n"
        f"  default: {{api_key: key-0123456789, base_url: 'http://127.0.0.1:{port}'}}\n"
    )
    result = csroute("custify", "test-connection", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 3
    assert (
        f"error: connection 'default': GET http://127.0.0.1:{port}/people/all: cannot connect"
        " (Connection refused); gave up after 2 attempts" in result.stderr
    )
    assert "ClientConnectorError" not in result.stderr


def test_send_to_a_csroute_that_is_not_running(tmp_path: Path) -> None:
    port = free_port()
    result = csroute("send", "--url", f"http://127.0.0.1:{port}", "--write-key", "wk", cwd=tmp_path)
    assert result.returncode == 3
    assert (
        f"error: POST http://127.0.0.1:{port}/v1/batch: cannot connect (Connection refused);"
        " gave up after 1 attempt. Is `csroute serve` running there?" in result.stderr
    )


def test_send_names_the_line_that_is_not_json(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "track"}\n{oops\n')
    result = csroute("send", str(events), "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert result.returncode == 2
    assert f"error: {events}: line 2 is not a JSON event" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_sync_against_an_unreachable_custify_exits_3_naming_the_call(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "csroute.yaml"
    config.write_text(
        "custify_connections:\n"
        f"  default: {{api_key: key-0123456789, base_url: 'http://127.0.0.1:{port}'}}\n"
    )
    (tmp_path / "p.csv").write_text("user_id,email\nu1,a@example.com\n")
    args = ("sync", str(tmp_path / "p.csv"), "-t", "Upsert Person", "-c", str(config))
    message = (
        f"POST http://127.0.0.1:{port}/people: cannot connect (Connection refused); gave up"
        " after 1 attempt"
    )
    tested = csroute(*args, "--test", cwd=tmp_path)
    assert tested.returncode == 3, tested.stderr
    assert f'"error": "{message}"' in tested.stdout
    ran = csroute(*args, cwd=tmp_path)
    assert ran.returncode == 3, ran.stderr
    assert f"error: stopped after row 0: {message}; run the same command again" in ran.stderr
