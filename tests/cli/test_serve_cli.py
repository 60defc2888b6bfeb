"""``csroute serve`` and ``csroute config check`` as a user meets them: what they say, when."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from support.process import CsrouteProcess
from support.servers import free_port


def write(tmp_path: Path, destinations: list[dict[str, object]]) -> Path:
    path = tmp_path / "csroute.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "sources": [{"name": "web", "write_key": "wk-0123456789"}],
                "destinations": destinations,
                "connections": [
                    {"source": "web", "destinations": [d["name"] for d in destinations]}
                ],
            }
        )
    )
    return path


def local_custify(port: int) -> dict[str, object]:
    settings = {"api_key": "trial-key-123", "base_url": f"http://127.0.0.1:{port}"}
    return {"name": "cs", "type": "custify", "settings": settings}


def on_a_busy_port(*command: str) -> subprocess.CompletedProcess[str]:
    """Run ``csroute COMMAND --port P`` while P is taken; check it says so and exits 3."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "csroute", *command, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 3
    assert f"error: cannot listen on http://127.0.0.1:{port}: Address already in use" in (
        result.stderr
    )
    return result


def test_a_busy_port_fails_before_anything_says_it_listens(tmp_path: Path) -> None:
    path = write(tmp_path, [])
    result = on_a_busy_port("serve", "-c", str(path))
    assert "listening" not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


def test_config_check_starts_nothing_and_says_nothing_listens(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "csroute", "config", "check", "-c", str(write(tmp_path, []))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "gateway on http://127.0.0.1:8080" in result.stdout
    assert "listening" not in result.stdout


def test_a_local_destination_nobody_listens_on_is_named_with_what_to_do(tmp_path: Path) -> None:
    port = free_port()
    custify = local_custify(port)
    proc = CsrouteProcess(tmp_path, yaml.safe_load(write(tmp_path, [custify]).read_text()))
    proc.start()
    try:
        log = proc.log.read_text()
        assert (
            f"warning: destination 'cs' delivers to http://127.0.0.1:{port}, where nothing is"
            f" listening; start it with `csroute sandbox custify --port {port}`, or run"
            " `csroute serve --with-sandboxes`" in log
        )
        assert log.index("csroute listening on http://127.0.0.1") > log.index("gateway on http://")
    finally:
        proc.stop()


def test_with_sandboxes_runs_the_sandbox_the_configuration_points_at(tmp_path: Path) -> None:
    port = free_port()
    custify = local_custify(port)
    config = yaml.safe_load(write(tmp_path, [custify]).read_text())
    proc = CsrouteProcess(tmp_path, config, args=("--with-sandboxes",))
    proc.start()
    try:
        log = proc.log.read_text()
        assert "nothing is listening" not in log
        assert f"sandbox listening on http://127.0.0.1:{port}" in log
        answer = httpx.get(
            f"http://127.0.0.1:{port}/people/all",
            headers={"Authorization": "Bearer trial-key-123"},
        )
        assert answer.status_code == 200
    finally:
        proc.stop()


def test_the_gateway_log_names_a_bad_timestamp_once(tmp_path: Path) -> None:
    proc = CsrouteProcess(tmp_path, yaml.safe_load(write(tmp_path, []).read_text()))
    proc.start()
    try:
        event = {"type": "track", "userId": "u1", "event": "E", "timestamp": "yesterday"}
        answer = httpx.post(
            f"{proc.url}/v1/batch", json={"batch": [event]}, auth=("wk-0123456789", "")
        )
        assert answer.status_code == 400
    finally:
        proc.stop()
    log = proc.log.read_text()
    assert (
        'source web: 1 events rejected; first: timestamp "yesterday" is not an ISO-8601'
        " date-time (field=batch[0].timestamp rule=iso8601)" in log
    )
    assert "timestamp timestamp" not in log


def test_a_sandbox_on_a_busy_port_says_so_before_it_says_where_it_runs() -> None:
    result = on_a_busy_port("sandbox", "kustomer")
    assert "sandbox" not in result.stdout
