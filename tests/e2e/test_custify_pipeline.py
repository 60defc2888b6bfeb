"""Custify end to end: real SDK → ``csroute serve`` (a subprocess) → the Custify sandbox.

The sandbox runs with a rate limit small enough to matter (30 requests per 3 s) and the
destination is told the same limit, so these tests show the pacing holds against a server
that counts, that a SIGKILL mid-delivery loses nothing and duplicates no event (the
``deduplication_id`` absorbs what is sent again), and that events Custify cannot take are
counted as rejected and never sent.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rudderstack.analytics.client import Client as RudderClient

from csroute.custify.sandbox import create_app, running
from e2e.test_pipeline import wait_for
from support.held_checks import HeldChecks
from support.process import CSROUTE, CsrouteProcess

WRITE_KEY = "e2e-custify-write-key-0001"
API_KEY = "e2e-custify-api-key"
LIMIT = (30, 3.0)
TS = "2026-03-04T05:06:07.000Z"


@pytest.fixture
def sandbox() -> Iterator[str]:
    with running(create_app(api_keys=(API_KEY,), rate_limit=LIMIT)) as url:
        yield url


class KillPoint:
    """The sandbox behind a gate that the test closes: once ``events`` events have landed, every
    API request is held (body read, nothing applied) until the test has killed csroute and
    opens the gate; the held requests are then applied, their answers lost with their client,
    as when a process dies mid-request. So the kill falls where the test says, whatever the
    machine's speed."""

    def __init__(self, events: int) -> None:
        self.app = create_app(api_keys=(API_KEY,), rate_limit=LIMIT)
        self.events = events
        self.holding = threading.Event()  # a request is held: csroute is mid-delivery
        self.opened = threading.Event()
        self.held = 0
        self.applied = 0  # held requests applied after the gate opened

    def landed(self) -> int:
        return len(self.app.state.sandbox.events)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        api = scope["type"] == "http" and not scope["path"].startswith("/__sandbox")
        if not api or self.opened.is_set() or self.landed() < self.events:
            await self.app(scope, receive, send)
            return
        messages = [await receive()]
        while messages[-1].get("more_body"):
            messages.append(await receive())
        self.held += 1
        self.holding.set()
        while not self.opened.is_set():
            await asyncio.sleep(0.01)

        async def replay() -> Any:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        await self.app(scope, replay, send)
        self.applied += 1


def custify_config(sandbox: str, **settings: Any) -> dict[str, Any]:
    return {
        "sources": [{"name": "app", "write_key": WRITE_KEY}],
        "destinations": [
            {
                "name": "custify",
                "type": "custify",
                "settings": {
                    "api_key": API_KEY,
                    "base_url": sandbox,
                    "rate_limit_requests": LIMIT[0],
                    "rate_limit_window_s": LIMIT[1],
                    "batch_check_delay_s": 0,
                    **settings,
                },
            }
        ],
        "connections": [{"source": "app", "destinations": ["custify"]}],
        "delivery": {"backoff_base_s": 0.05, "backoff_max_s": 0.5, "max_attempts": 1000},
    }


def state(sandbox: str, summary: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(
        f"{sandbox}/__sandbox/state", params={"summary": str(summary).lower()}
    ).json()
    return result


def status(csroute: CsrouteProcess) -> dict[str, Any]:
    """``csroute status --json`` for the custify destination, as an operator reads it."""
    done = subprocess.run(
        [*CSROUTE, "status", "--json", "--config", str(csroute.config_path)],
        cwd=csroute.workdir,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr.decode()
    report: dict[str, Any] = json.loads(done.stdout)["custify"]
    return report


def post_batch(csroute: CsrouteProcess, events: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{csroute.url}/v1/batch", json={"batch": events}, auth=(WRITE_KEY, ""))
    assert response.status_code == 200, response.text


# -- real SDK, many users ------------------------------------------------------------------

USERS = 40
COMPANIES = 8
TRACKS = 3


def company_of(u: int) -> str:
    return f"acme-{u % COMPANIES}"


def test_sdk_users_companies_and_events_land_under_the_rate_limit(
    tmp_path: Path, sandbox: str
) -> None:
    csroute = CsrouteProcess(tmp_path, custify_config(sandbox)).start()
    errors: list[Any] = []
    expected_events: dict[str, tuple[str, int]] = {}  # messageId -> (user id, n)
    try:
        # The RudderStack SDK with its default settings (gzip on); users interleaved.
        client = RudderClient(WRITE_KEY, host=csroute.url, on_error=lambda e, b: errors.append(e))
        for u in range(USERS):
            client.identify(
                f"user-{u}",
                {"email": f"user-{u}@example.com", "name": f"User {u}", "plan": "pro", "seats": u},
            )
        for u in range(USERS):
            c = u % COMPANIES
            client.group(
                f"user-{u}",
                company_of(u),
                {"name": f"Acme {c}", "industry": "Software", "tier": f"tier-{c % 3}"},
            )
        for n in range(TRACKS):
            for u in range(USERS):
                message_id = f"track-{u}-{n}"
                client.track(
                    f"user-{u}", "Report Exported", {"n": n, "format": "csv"}, message_id=message_id
                )
                expected_events[message_id] = (f"user-{u}", n)
        client.flush()
        client.join()
        assert errors == []

        def complete() -> bool:
            s = state(sandbox)
            linked = sum(1 for p in s["people"] if p["companies"])
            return len(s["events"]) == len(expected_events) and linked == USERS

        wait_for(complete, timeout=60)
        wait_for(lambda: status(csroute)["sent"] == 0, timeout=30)
        report = status(csroute)
    finally:
        csroute.stop()

    s = state(sandbox)
    people = {p["user_id"]: p for p in s["people"]}
    companies = {c["company_id"]: c for c in s["companies"]}
    assert set(people) == {f"user-{u}" for u in range(USERS)}
    assert set(companies) == {company_of(u) for u in range(COMPANIES)}
    for u in range(USERS):
        person = people[f"user-{u}"]
        assert person["email"] == f"user-{u}@example.com"
        assert person["name"] == f"User {u}"
        assert person["custom_attributes"]["plan"] == "pro"
        assert person["custom_attributes"]["seats"] == u
        # Exactly one association: the person is in their company.
        assert person["companies"] == [companies[company_of(u)]["id"]]
    for c in range(COMPANIES):
        company = companies[f"acme-{c}"]
        assert company["name"] == f"Acme {c}" and company["industry"] == "Software"
        assert company["custom_attributes"]["tier"] == f"tier-{c % 3}"
        assert company["people_count"] == USERS // COMPANIES

    by_internal_id = {p["id"]: p["user_id"] for p in s["people"]}
    for e in s["events"]:
        user, n = expected_events[e["deduplication_id"]]
        assert by_internal_id[e["people"]] == user
        assert e["name"] == "Report Exported"
        assert e["metadata"]["n"] == n and e["metadata"]["format"] == "csv"
    assert len(s["events"]) == len(expected_events)

    assert report["delivered"] == USERS * (2 + TRACKS)
    assert (report["dead"], report["rejected"], report["retrying"], report["held"]) == (0, 0, 0, 0)
    # Paced at the key's limit: the sandbox (a fixed window that counts every request) may
    # refuse at most a stray request at a window's edge, never a run of them.
    requests = s["requests"]
    assert requests["total"] >= USERS  # batching or not, the limit mattered
    assert requests.get("429", 0) <= max(1, requests["total"] // 100), requests


# -- SIGKILL mid-delivery --------------------------------------------------------------------


def backlog(users: int, tracks: int) -> tuple[list[dict[str, Any]], set[str]]:
    """Each user identified, then their tracks; users interleaved. Returns (events, track ids)."""
    events: list[dict[str, Any]] = []
    track_ids: set[str] = set()
    for u in range(users):
        traits = {"email": f"k{u}@example.com", "name": f"Kill {u}"}
        events.append(
            {"type": "identify", "userId": f"k{u}", "traits": traits, "messageId": f"id-{u}"}
        )
    for n in range(tracks):
        for u in range(users):
            message_id = f"kill-{u}-{n}"
            track_ids.add(message_id)
            events.append(
                {
                    "type": "track",
                    "userId": f"k{u}",
                    "event": "Seat Added",
                    "properties": {"n": n},
                    "messageId": message_id,
                    "timestamp": TS,
                }
            )
    return events, track_ids


@pytest.mark.parametrize(
    ("batch_size", "users", "tracks"),
    [(100, 30, 5), (1, 10, 5)],
    ids=["batch", "single-request"],
)
def test_kill_9_mid_delivery_loses_nothing_and_duplicates_no_event(
    tmp_path: Path, batch_size: int, users: int, tracks: int
) -> None:
    events, track_ids = backlog(users, tracks)
    gate = KillPoint(len(track_ids) // 3)
    with running(gate) as gated:
        # Ingest the whole backlog first (gateway only), then deliver it through the gate.
        config = custify_config(gated, batch_size=batch_size)
        gateway = CsrouteProcess(tmp_path, config, role="gateway").start()
        try:
            for start in range(0, len(events), 25):
                post_batch(gateway, events[start : start + 25])
        finally:
            gateway.stop()

        csroute = CsrouteProcess(tmp_path, config).start()
        try:
            assert gate.holding.wait(60), "no request reached the gate"
            before_kill = gate.landed()
            csroute.kill()
            assert before_kill < len(track_ids)  # killed mid-run, by construction
            gate.opened.set()
            wait_for(lambda: gate.applied == gate.held)
            # Applied, but csroute never heard back: these must be sent again after the restart.
            unanswered = gate.landed() - before_kill
            csroute.start()
            wait_for(lambda: state(gated, summary=True)["counts"]["events"] == len(track_ids))
            wait_for(lambda: status(csroute)["delivered"] == len(events), timeout=30)
            report = status(csroute)
        finally:
            csroute.stop()
        s = state(gated)

    per_message = Counter(e["deduplication_id"] for e in s["events"])
    assert set(per_message) == track_ids  # nothing lost
    assert set(per_message.values()) == {1}  # no event twice
    # What landed without an answer was sent again after the restart; Custify's deduplication
    # (here the sandbox's) absorbed it.
    assert s["counters"]["events_deduplicated"] >= unanswered
    assert len(s["people"]) == users
    assert (report["dead"], report["rejected"], report["backlog"]) == (0, 0, 0)


# -- invalid events ---------------------------------------------------------------------------


def test_events_custify_cannot_take_are_rejected_visibly_and_never_sent(
    tmp_path: Path, sandbox: str
) -> None:
    valid: list[dict[str, Any]] = [
        {"type": "identify", "userId": "ok-1", "traits": {"email": "ok@example.com"}},
        {"type": "track", "userId": "ok-1", "event": "Signed In", "timestamp": TS},
    ]
    # All pass the gateway's checks; Custify's mapping refuses each.
    invalid: list[dict[str, Any]] = [
        # No user id nor email, and send_anonymous_id is off.
        {"type": "identify", "anonymousId": "anon-1", "traits": {"plan": "free"}},
        {"type": "track", "anonymousId": "anon-2", "event": "Clicked", "timestamp": TS},
        # Custify has no page views (page_and_screen: reject, the default).
        {"type": "page", "userId": "ok-1", "name": "Pricing"},
        {"type": "alias", "userId": "ok-1", "previousId": "anon-1"},
    ]
    csroute = CsrouteProcess(tmp_path, custify_config(sandbox)).start()
    try:
        post_batch(csroute, [*invalid[:2], valid[0], *invalid[2:], valid[1]])
        wait_for(lambda: state(sandbox, summary=True)["counts"]["events"] == 1)
        wait_for(lambda: status(csroute)["delivered"] == len(valid), timeout=30)
        report = status(csroute)
    finally:
        csroute.stop()

    assert report["rejected"] == len(invalid)
    assert (report["dead"], report["retrying"], report["held"]) == (0, 0, 0)
    s = state(sandbox)
    assert [p["user_id"] for p in s["people"]] == ["ok-1"]
    assert [e["name"] for e in s["events"]] == ["Signed In"]
    # Nothing else was sent: one request per valid event (different users' events could
    # share a batch, one user's never do).
    assert s["requests"]["total"] == len(valid)

    # The reasons, as the router's transform gives them (RudderStack's messages).
    lines = "\n".join(json.dumps(e) for e in invalid)
    refused = subprocess.run(
        [*CSROUTE, "transform", "--destination", "custify", "--settings",
         json.dumps({"api_key": API_KEY})],
        input=lines.encode(), capture_output=True,
    )  # fmt: skip
    assert refused.returncode == 1  # every event refused, every line answered
    out = refused.stdout
    reasons = [json.loads(line)["error"] for line in out.decode().splitlines()]
    assert reasons[:2] == ["Email or userId is mandatory"] * 2
    assert reasons[2].startswith("Message type not supported: Custify has no page views")
    assert reasons[3] == "Message type not supported"


# -- batch outcomes ---------------------------------------------------------------------------

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
INVALID_EMAIL = "HTTP 422: Custify refused the request as invalid (Custify: Invalid email)"


def test_a_batchs_events_are_sent_until_checked_then_failed_jobs_are_dead_lettered(
    tmp_path: Path,
) -> None:
    emails = ["a@x.io", "bad@x.io", "c@x.io", "d@x.io", "bad@x.io", "f@x.io"]
    events = [
        {"type": "identify", "userId": f"b{n}", "traits": {"email": email}}
        for n, email in enumerate(emails)
    ]
    gate = HeldChecks(api_keys=(API_KEY,), rate_limit=LIMIT)
    with running(gate) as url:
        rule = {"field": "email", "value": "bad@x.io", "status": 422, "message": "Invalid email"}
        httpx.post(f"{url}/__sandbox/faults", json={"batch_job_errors": [rule]}).raise_for_status()
        config = {**custify_config(url, batch_check_every=1), "admin": {"token": ADMIN_TOKEN}}
        csroute = CsrouteProcess(tmp_path, config).start()
        try:
            post_batch(csroute, events)
            wait_for(lambda: gate.holding.is_set() and status(csroute)["sent"] == len(events))
            held = status(csroute)
            admin = httpx.get(
                f"{csroute.url}/admin/status", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ).json()["custify"]
            metrics = httpx.get(f"{csroute.url}/metrics").text
            # A crash between the batch and its check: the check is in the store.
            csroute.kill()
            batches = batch_posts(url)
            gate.opened.set()
            csroute.start()
            wait_for(lambda: status(csroute)["sent"] == 0, timeout=30)
            report = status(csroute)
        finally:
            csroute.stop()
        people = state(url)["people"]
        batches_after = batch_posts(url)

    # Accepted, not yet checked: sent, not delivered, wherever an operator looks.
    assert (held["sent"], held["delivered"], held["dead"]) == (len(events), 0, 0)
    assert (admin["sent"], admin["delivered"]) == (len(events), 0)
    assert f'csroute_sent{{destination="custify"}} {float(len(events))}' in metrics
    # Checked after the restart: exactly the jobs Custify failed are dead letters, with its
    # reason, and no batch was sent again.
    assert (report["delivered"], report["dead"], report["unverified"]) == (4, 2, 0)
    assert report["dead_by_error"] == {INVALID_EMAIL: 2}
    assert sorted(p["user_id"] for p in people) == ["b0", "b2", "b3", "b5"]
    assert batches_after == batches >= 1


def batch_posts(sandbox: str) -> int:
    log = httpx.get(f"{sandbox}/__sandbox/requests").json()["requests"]
    return sum(1 for r in log if (r["method"], r["path"]) == ("POST", "/batch"))
