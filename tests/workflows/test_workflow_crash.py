"""A ``csroute serve`` killed with ``kill -9`` in the middle of a run resumes it after a restart
at the step that was in flight, without repeating the step that had succeeded; its outcome is
counted on /metrics."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from workflows_support import API_KEY, HoldFirst, Kit

from csroute.custify.sandbox import create_app
from csroute.store.sqlite import SQLiteStore
from support.process import CsrouteProcess
from support.servers import ServerThread


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def counted(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    pattern = r'csroute_workflow_runs_total\{outcome="succeeded",workflow="follow-up"\} (\S+)'
    found = re.findall(pattern, text)
    return float(found[0]) if found else 0.0


def test_a_run_killed_mid_step_resumes_without_repeating_a_step(tmp_path: Path) -> None:
    sandbox = create_app(api_keys=(API_KEY,), rate_limit=None)
    held = HoldFirst(sandbox, "POST", "/note")
    with ServerThread(held) as server:
        kit = Kit(sandbox, server.url)
        company = kit.ok(kit.http.post("/company", json={"company_id": "acme"}))["id"]
        kit.ok(
            kit.http.post("/ticket", json={"externalId": "Z-1", "title": "t", "company": "acme"})
        )
        steps = [
            {
                "id": "task",
                "action": "tasks.create",
                "body": {"name": "Follow up", "priority": "high", "status": "open"},
            },
            {
                "id": "note",
                "action": "notes.create",
                "body": {
                    "text": "task {{ steps.task.output.id }}",
                    "entity": "{{ trigger.record.company.0 }}",
                    "entityModel": "Company",
                },
            },
        ]
        document = kit.config(
            tmp_path / "data",
            store={"lease_ttl_s": 1.0},  # a dead process's claim on its run expires soon
            triggers={"tickets": {"type": "Ticket Created", "since": "2000-01-01T00:00:00Z"}},
            workflows={"follow-up": {"trigger": "tickets", "steps": steps}},
        )
        csroute = CsrouteProcess(tmp_path, document)
        csroute.start()
        try:
            assert held.arrived.wait(60), "the note step never started"
            csroute.kill()  # mid-step: the task is created, the note is in flight
            held.release()  # the dead process's note is answered 503 and never applied
            assert len(kit.state.tasks) == 1 and kit.state.notes == {}
            csroute.start()
            until(lambda: len(kit.state.notes) == 1, "the resumed run's note")
            until(lambda: counted(csroute.url) == 1, "the run's outcome on /metrics")
        finally:
            csroute.stop()
        posted_tasks = kit.requests("POST", "/task")
        kit.http.close()

    (task,) = kit.state.tasks.values()
    (note,) = kit.state.notes.values()
    assert (note["text"], note["entity"]) == (f"task {task['id']}", company)
    assert len(posted_tasks) == 1  # never sent again

    async def stored() -> list[tuple[str, str, int]]:
        store = await SQLiteStore.open(tmp_path / "data" / "events.db")
        try:
            (listed,) = await store.workflow_runs("follow-up")
            run = await store.workflow_run(listed.id)
        finally:
            await store.close()
        assert run is not None and run.state == "succeeded"
        return [(s.name, s.state, s.attempts) for s in run.steps]

    assert asyncio.run(stored()) == [("task", "succeeded", 1), ("note", "succeeded", 2)]
