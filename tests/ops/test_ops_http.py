"""Health, readiness, metrics and the admin API of a running ``csroute serve``."""

from __future__ import annotations

import json
import socket
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
        assert httpx.get(f"{csroute.url}/console/login").status_code == 404  # nor a console
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
    (row,) = response.json()
    assert row | {"note": None} == {
        "destination": "hook",
        "dropped": 0,
        "deleted": False,
        "error": None,
        "note": None,
    }
    assert row["note"].startswith("this destination has no API to delete a user")
    missing = httpx.post(f"{csroute.url}/admin/forget", headers=admin, json={})
    assert missing.status_code == 400 and "user_id" in missing.json()["error"]


# (method, path, body, status, field, rule): each refused with the field and the rule named
BAD_ADMIN_REQUESTS: list[tuple[str, str, bytes | None, int, str, str]] = [
    ("GET", "/dead-letters?after_id=x", None, 400, "after_id", "integer"),
    ("GET", "/dead-letters?after_id=1.5", None, 400, "after_id", "integer"),
    ("GET", "/dead-letters?after_id=--5", None, 400, "after_id", "integer"),
    ("GET", "/dead-letters?after_id=" + "9" * 5000, None, 400, "after_id", "integer"),
    ("GET", "/dead-letters?after_id=-1", None, 400, "after_id", "range"),
    ("GET", f"/dead-letters?after_id={2**64}", None, 400, "after_id", "range"),
    ("GET", "/dead-letters?limit=abc", None, 400, "limit", "integer"),
    ("GET", "/dead-letters?limit=-1", None, 400, "limit", "range"),
    ("GET", "/dead-letters?limit=0", None, 400, "limit", "range"),
    ("GET", "/dead-letters?limit=1001", None, 400, "limit", "range"),
    ("GET", "/dead-letters?limt=5", None, 400, "limt", "unknown_parameter"),
    ("GET", "/dead-letters?destination=a%00b", None, 400, "destination", "nul"),
    ("GET", "/dead-letters?destination=" + "d" * 201, None, 400, "destination", "length"),
    ("POST", "/forget", b'{"user_id": "u\\u0000"}', 400, "user_id", "nul"),
    ("POST", "/dead-letters/discard", b'{"destination": "\\u0000"}', 400, "destination", "nul"),
    ("GET", "/status?verbose=1", None, 400, "verbose", "unknown_parameter"),
    ("GET", f"/dead-letters/{10**30}", None, 400, "id", "range"),
    ("GET", "/dead-letters/0", None, 400, "id", "range"),
    ("GET", "/dead-letters/" + "9" * 5000, None, 400, "id", "range"),
    ("GET", "/dead-letters/" + "0" * 30 + "7", None, 404, "id", "not_found"),
    ("GET", "/dead-letters/12345", None, 404, "id", "not_found"),
    ("POST", "/dead-letters/replay", b"{", 400, "", "json"),
    ("POST", "/dead-letters/replay", b"", 400, "", "json"),
    ("POST", "/dead-letters/replay", b"\xff", 400, "", "json"),
    ("POST", "/dead-letters/replay", b'{"destination": "\xff"}', 400, "", "utf8"),
    ("POST", "/forget", b'{"user_id": "u\xc3"}', 400, "", "utf8"),
    ("POST", "/dead-letters/replay", b"[]", 400, "", "type"),
    ("POST", "/dead-letters/replay", b'{"ids": [1e400]}', 400, "ids[0]", "range"),
    ("POST", "/dead-letters/replay", b'{"ids": [1.5]}', 400, "ids[0]", "type"),
    ("POST", "/dead-letters/replay", b'{"ids": [%d]}' % 2**63, 400, "ids[0]", "range"),
    ("POST", "/dead-letters/replay", b'{"ids": [-5]}', 400, "ids[0]", "range"),
    ("POST", "/dead-letters/replay", b'{"ids": [%s]}' % (b"9" * 5000), 400, "ids[0]", "range"),
    ("POST", "/dead-letters/discard", b'{"ids": "1"}', 400, "ids", "type"),
    ("POST", "/dead-letters/discard", b'{"idz": [1]}', 400, "idz", "unknown_field"),
    ("POST", "/dead-letters/discard", b'{"all": "yes"}', 400, "all", "type"),
    ("POST", "/dead-letters/discard", b'{"destination": ""}', 400, "destination", "length"),
    ("POST", "/forget", b"{}", 400, "user_id", "required"),
    ("POST", "/forget", b'{"user_id": 7}', 400, "user_id", "type"),
    ("POST", "/forget", b'{"user_id": "u", "destinations": [1]}', 400, "destinations[0]", "type"),
    ("POST", "/forget", b'{"user_id": "u"' + b" " * (1 << 20) + b"}", 413, "", "max_body_bytes"),
    ("GET", "/forget", None, 405, "", "method"),
    ("GET", "/nowhere", None, 404, "", "not_found"),
]


def test_bad_admin_requests_are_4xx_naming_the_field_and_the_rule(
    running: tuple[CsrouteProcess, Receiver],
) -> None:
    csroute, _ = running
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=f"{csroute.url}/admin", headers=admin) as client:
        for method, path, body, status, field, rule in BAD_ADMIN_REQUESTS:
            response = client.request(method, path, content=body)
            shown = (method, path, response.status_code, response.text[:200])
            assert response.status_code == status, shown
            answer = response.json()
            assert (answer["field"], answer["rule"]) == (field, rule), shown
            assert answer["error"], shown
        refused = client.get("/status", headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        assert (refused.json()["field"], refused.json()["rule"]) == ("Authorization", "admin_token")
        # Bounded pages: the largest limit is accepted, and the listing still answers.
        assert client.get("/dead-letters?limit=1000&after_id=0").status_code == 200
        assert client.get(f"/dead-letters?after_id={2**63 - 1}").json() == []


def test_an_admin_body_that_never_completes_is_a_408_and_the_connection_closes(
    tmp_path: Path,
) -> None:
    csroute = CsrouteProcess(
        tmp_path, {"admin": {"token": ADMIN_TOKEN}, "limits": {"body_timeout_s": 0.5}}
    ).start()
    try:
        response = unfinished_replay(csroute)
    finally:
        csroute.stop()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body)["rule"] == "body_timeout"


def unfinished_replay(csroute: CsrouteProcess) -> bytes:
    """A replay that promises 100 bytes and sends 7, then waits: what the server answers."""
    with socket.create_connection(("127.0.0.1", csroute.port), timeout=30) as sock:
        sock.sendall(
            b"POST /admin/dead-letters/replay HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: 100\r\n\r\n".encode()
            + b'{"ids":'
        )
        response = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            response += chunk
    return response
