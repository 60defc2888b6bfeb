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
