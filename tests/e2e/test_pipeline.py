"""The whole pipeline as users run it: real SDK clients → ``csroute serve`` → a webhook.

These start csroute as a subprocess, so they also prove the CLI, the configuration and the
start-up path, and they can kill it with SIGKILL like a crash would.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from support.postgres import fresh_database
from support.process import CSROUTE, CsrouteProcess
from support.receiver import Receiver
from support.servers import ServerThread

WRITE_KEY = "e2e-write-key-0001"


def pipeline_config(receiver_url: str, **webhook: Any) -> dict[str, Any]:
    return {
        "sources": [{"name": "app", "write_key": WRITE_KEY}],
        "destinations": [
            {"name": "hook", "type": "webhook", "settings": {"url": receiver_url, **webhook}}
        ],
        "connections": [{"source": "app", "destinations": ["hook"]}],
        "delivery": {"backoff_base_s": 0.05, "backoff_max_s": 0.5, "max_attempts": 1000},
    }


@pytest.fixture(params=["sqlite", "postgres"])
def store_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The guarantee tests run once per store backend: this is the config's ``store`` key."""
    if request.param == "sqlite":
        return {}
    return {
        "store": {"backend": "postgres", "url": fresh_database(), "partitions": 4, "lease_ttl_s": 2}
    }


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    with ServerThread(r) as server:
        yield r, server.url


def wait_for(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.05)


@pytest.mark.parametrize("sdk", ["rudder", "segment"])
def test_real_sdk_events_reach_the_webhook(
    tmp_path: Path, receiver: tuple[Receiver, str], sdk: str
) -> None:
    r, url = receiver
    csroute = CsrouteProcess(tmp_path, pipeline_config(url)).start()
    errors: list[Any] = []
    try:
        # Each SDK with its default settings (the RudderStack SDK gzips by default).
        client_class = RudderClient if sdk == "rudder" else SegmentClient
        client = client_class(WRITE_KEY, host=csroute.url, on_error=lambda e, b: errors.append(e))
        client.identify("user-1", {"email": "ada@example.com", "name": "Ada"})
        client.track("user-1", "Order Completed", {"revenue": 42.5})
        client.group("user-1", "acme", {"name": "Acme"})
        client.page("user-1", "Docs", "Pricing")
        client.flush()
        client.join()
        wait_for(lambda: len(r.accepted) >= 4)
    finally:
        csroute.stop()
    assert errors == []
    types = [e["type"] for e in r.accepted]
    assert types == ["identify", "track", "group", "page"]
    track = r.accepted[1]
    assert track["event"] == "Order Completed" and track["properties"] == {"revenue": 42.5}
    assert track["userId"] == "user-1" and track["messageId"] and track["receivedAt"]
    assert "sentAt" in track and track["context"]["library"]["name"]


def test_kill_9_loses_no_acknowledged_event(
    tmp_path: Path, receiver: tuple[Receiver, str], store_config: dict[str, Any]
) -> None:
    """SIGKILL csroute twice while it ingests and delivers; every acked event still arrives."""
    r, url = receiver
    csroute = CsrouteProcess(tmp_path, {**pipeline_config(url), **store_config})
    acked: list[int] = []
    stop = threading.Event()

    def produce() -> None:
        n = 0
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                batch = [
                    {
                        "type": "track",
                        "userId": f"u{(n + i) % 7}",
                        "event": "Tick",
                        "properties": {"n": n + i},
                    }
                    for i in range(20)
                ]
                try:
                    response = http.post(
                        f"{csroute.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, "")
                    )
                except httpx.HTTPError:
                    time.sleep(0.02)  # down: the SDK would retry the same batch later
                    continue
                if response.status_code == 200:
                    acked.extend(range(n, n + 20))
                    n += 20

    csroute.start()
    producer = threading.Thread(target=produce)
    producer.start()
    try:
        for _ in range(2):
            # Kill while both ingestion and delivery are under way.
            target, delivered = len(acked) + 1500, len(r.accepted)
            wait_for(lambda t=target, d=delivered: len(acked) >= t and len(r.accepted) > d)
            csroute.kill()
            csroute.start()
        stop.set()
        producer.join()
        wanted = set(acked)
        wait_for(lambda: wanted <= {e["properties"]["n"] for e in r.accepted}, timeout=120)
    finally:
        stop.set()
        csroute.stop()
    assert len(acked) >= 3000


def test_gateway_and_router_as_separate_processes_share_the_log(
    tmp_path: Path, receiver: tuple[Receiver, str], store_config: dict[str, Any]
) -> None:
    r, url = receiver
    (tmp_path / "gw").mkdir()
    (tmp_path / "rt").mkdir()
    shared = {"data_dir": str(tmp_path / "data"), **store_config}
    gateway = CsrouteProcess(tmp_path / "gw", {**pipeline_config(url), **shared}, role="gateway")
    router = CsrouteProcess(tmp_path / "rt", {**pipeline_config(url), **shared}, role="router")
    gateway.start()
    router.start()
    try:
        with httpx.Client() as http:
            for n in range(0, 500, 50):
                batch = [
                    {
                        "type": "track",
                        "userId": f"u{i % 5}",
                        "event": "Split",
                        "properties": {"n": i},
                    }
                    for i in range(n, n + 50)
                ]
                response = http.post(
                    f"{gateway.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, "")
                )
                assert response.status_code == 200
        wait_for(lambda: len(r.accepted) >= 500)
        # The router process does not ingest: its /v1 endpoints do not exist.
        response = httpx.post(f"{router.url}/v1/track", json={}, auth=(WRITE_KEY, ""))
        assert response.status_code == 404
    finally:
        gateway.stop()
        router.stop()
    for user, events in r.by_user().items():
        ns = [e["properties"]["n"] for e in events]
        assert ns == sorted(ns), user
    assert sorted(e["properties"]["n"] for e in r.accepted) == list(range(500))


def test_csroute_send_posts_sample_events(tmp_path: Path, receiver: tuple[Receiver, str]) -> None:
    import subprocess
    import sys

    r, url = receiver
    csroute = CsrouteProcess(tmp_path, pipeline_config(url)).start()
    try:
        sent = subprocess.run(
            [
                sys.executable,
                "-m",
                "csroute",
                "send",
                "--config",
                str(csroute.config_path),
                "--user-id",
                "ada",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert sent.returncode == 0, sent.stderr
        assert '"accepted":3' in sent.stdout.replace(" ", "")
        wait_for(lambda: len(r.accepted) == 3)
    finally:
        csroute.stop()
    assert [(e["type"], e["userId"]) for e in r.accepted] == [
        ("identify", "ada"),
        ("group", "ada"),
        ("track", "ada"),
    ]


def test_sigterm_stops_cleanly_after_recording_deliveries(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    r, url = receiver
    csroute = CsrouteProcess(tmp_path, pipeline_config(url)).start()
    batch = [
        {"type": "track", "userId": "u", "event": "Bye", "properties": {"n": n}} for n in range(50)
    ]
    httpx.post(f"{csroute.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""))
    wait_for(lambda: len(r.accepted) == 50)
    assert csroute.proc is not None
    csroute.proc.terminate()
    assert csroute.proc.wait(30) == 0  # not killed by the signal: the shutdown path ran
    assert "stopping: finishing deliveries in flight" in csroute.log.read_text()
    # Nothing is left to send on a restart: every delivery was recorded before exiting.
    done = subprocess.run(
        [*CSROUTE, "status", "--json", "--config", str(csroute.config_path)],
        cwd=csroute.workdir,
        capture_output=True,
        check=True,
    )
    report = json.loads(done.stdout)["hook"]
    assert (report["delivered"], report["backlog"], report["retrying"], report["held"]) == (
        50,
        0,
        0,
        0,
    )
    assert len(r.accepted) == 50
