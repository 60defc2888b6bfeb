"""Health, readiness, metrics and the admin API of a running ``csroute serve``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.process import CsrouteProcess
from support.receiver import Receiver
from support.servers import ServerThread

WRITE_KEY = "wk-ops-secret-0001"
ADMIN_TOKEN = "admin-secret-token-0002"
HOOK_TOKEN = "hook-secret-token-0003"


def wait_for(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[CsrouteProcess, Receiver]]:
    """csroute with JSON logs and an admin token, delivering to a receiver that refuses n=0."""
    receiver = Receiver(lambda n, _body: "400" if n == 0 else None)
    with ServerThread(receiver) as server:
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
                        "settings": {
                            "url": server.url,
                            "headers": {"Authorization": f"Bearer {HOOK_TOKEN}"},
                        },
                    }
                ],
                "connections": [{"source": "app", "destinations": ["hook"]}],
            },
        ).start()
        try:
            yield csroute, receiver
        finally:
            csroute.stop()


def send(csroute: CsrouteProcess, n: int, key: str = WRITE_KEY) -> httpx.Response:
    return httpx.post(
        f"{csroute.url}/v1/track",
        auth=(key, ""),
        json={"userId": f"u{n}", "event": "Ops", "properties": {"n": n}},
    )


def test_health_ready_and_metrics(running: tuple[CsrouteProcess, Receiver]) -> None:
    csroute, receiver = running
    assert httpx.get(f"{csroute.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{csroute.url}/ready").json() == {"status": "ready"}
    for n in range(3):
        assert send(csroute, n).status_code == 200
    assert send(csroute, 9, key="wrong-key-123456").status_code == 401
    wait_for(lambda: len(receiver.accepted) == 2)
    # Outcomes are counted once recorded, a moment after the receiver has answered.
    counted = (
        'csroute_delivered_total{destination="hook"} 2.0',
        'csroute_dead_lettered_total{destination="hook"} 1.0',
    )
    wait_for(lambda: all(c in httpx.get(f"{csroute.url}/metrics").text for c in counted))
    metrics = httpx.get(f"{csroute.url}/metrics").text
    assert 'csroute_gateway_events_accepted_total{source="app"} 3.0' in metrics
    assert 'csroute_backlog{destination="hook"} 0.0' in metrics
    assert "csroute_delivery_request_seconds_bucket" in metrics


def test_admin_api_needs_the_token_and_manages_dead_letters(
    running: tuple[CsrouteProcess, Receiver],
) -> None:
    csroute, receiver = running
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert send(csroute, 0).status_code == 200
    wait_for(lambda: receiver.statuses["400"] == 1)
    base = f"{csroute.url}/admin"
    assert httpx.get(f"{base}/dead-letters").status_code == 401
    assert (
        httpx.get(f"{base}/dead-letters", headers={"Authorization": "Bearer no"}).status_code == 401
    )

    wait_for(lambda: httpx.get(f"{base}/dead-letters", headers=admin).json() != [])
    (letter,) = httpx.get(f"{base}/dead-letters", headers=admin).json()
    assert letter["status"] == 400 and letter["error"].startswith("HTTP 400")
    detail = httpx.get(f"{base}/dead-letters/{letter['id']}", headers=admin).json()
    assert detail["event"]["properties"] == {"n": 0}
    assert HOOK_TOKEN not in str(detail["request"])  # the credential header is masked
    assert httpx.get(f"{base}/dead-letters/999", headers=admin).status_code == 404
    assert (
        httpx.post(
            f"{base}/dead-letters/replay", headers=admin, content=b'{"idz": [1]}'
        ).status_code
        == 400
    )

    # The receiver accepts from now on: the replayed event is delivered.
    replayed = httpx.post(f"{base}/dead-letters/replay", headers=admin, json={"all": True})
    assert replayed.json() == {"replayed": 1}
    wait_for(lambda: len(receiver.accepted) == 1)
    # The outcome is recorded a moment after the receiver has answered.
    wait_for(lambda: httpx.get(f"{base}/status", headers=admin).json()["hook"]["delivered"] == 1)
    status = httpx.get(f"{base}/status", headers=admin).json()["hook"]
    assert (status["delivered"], status["dead"]) == (1, 0)
    assert httpx.post(f"{base}/dead-letters/discard", headers=admin, json={"all": True}).json() == {
        "discarded": 0
    }


def test_no_admin_api_without_a_token(tmp_path: Path) -> None:
    csroute = CsrouteProcess(tmp_path, {"sources": [{"name": "a", "write_key": WRITE_KEY}]})
    csroute.start()
    try:
        response = httpx.get(
            f"{csroute.url}/admin/dead-letters", headers={"Authorization": "Bearer x"}
        )
        assert response.status_code == 404
    finally:
        csroute.stop()


def test_secrets_never_reach_the_logs(running: tuple[CsrouteProcess, Receiver]) -> None:
    csroute, receiver = running
    send(csroute, 0)  # dead-lettered with the hook's Authorization header
    send(csroute, 1, key="guessed-write-key-999")  # an unknown key is logged as refused
    wait_for(lambda: receiver.statuses["400"] == 1)
    httpx.get(f"{csroute.url}/admin/status", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    csroute.stop()
    log = csroute.log.read_text()
    assert '"message":"dead-lettered"' in log.replace(" ", "")
    for secret in (WRITE_KEY, ADMIN_TOKEN, HOOK_TOKEN, "guessed-write-key-999"):
        assert secret not in log


def test_admin_forget_drops_a_users_queue(running: tuple[CsrouteProcess, Receiver]) -> None:
    csroute, _ = running
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = httpx.post(f"{csroute.url}/admin/forget", headers=admin, json={"user_id": "u7"})
    assert response.status_code == 200
    assert response.json() == [
        {"destination": "hook", "dropped": 0, "deleted": False, "error": None}
    ]
    missing = httpx.post(f"{csroute.url}/admin/forget", headers=admin, json={})
    assert missing.status_code == 400 and "user_id" in missing.json()["error"]
