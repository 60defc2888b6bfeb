"""Runs and their steps recorded in the store (SQLite and PostgreSQL), outputs mapped into later
steps, a permanent error stopping a run visibly until it is retried after a fix, 429s slowing a
step down until it goes through, and one run per record however often it is delivered."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from workflows_support import API_KEY, Kit, poll_and_run, write_config

from csroute.custify.client.connection import resolve
from csroute.events.model import NewEvent
from csroute.events.validate import accept_event
from csroute.router.ratelimit import LIMITERS
from csroute.secrets import mask
from csroute.store.base import Store, StoreUnavailable
from csroute.store.sqlite import SQLiteStore
from csroute.triggers.runner import Triggers
from csroute.workflows import metrics
from csroute.workflows.dry import dry_run
from csroute.workflows.runner import Workflows
from support.receiver import Receiver
from support.servers import ServerThread

SINCE = "2000-01-01T00:00:00Z"


def decoded(raw: bytes | None) -> Any:
    return None if raw is None else msgspec.json.decode(raw)


def tickets_workflow(steps: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {
        "triggers": {"tickets": {"type": "Ticket Created", "since": SINCE}},
        "workflows": {"follow-up": {"trigger": "tickets", "steps": steps, **more}},
    }


TASK = {
    "id": "task",
    "action": "tasks.create",
    "body": {
        "name": "Follow up {{ trigger.record.externalId }}",
        "priority": "low",
        "status": "open",
    },
}


async def test_runs_and_steps_are_recorded_with_inputs_outputs_and_timing(
    kit: Kit, tmp_path: Path, store: Store
) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as hook:
        steps = [
            TASK,
            {
                "id": "hook",
                "webhook": hook.url,
                "body": {"task": "{{ steps.task.output.id }}", "ticket": "{{ trigger.id }}"},
            },
            {
                "id": "event",
                "track": {"source": "custify", "event": "Followed Up"},
                "body": {"task": "{{ steps.task.output.id }}", "run": "{{ run.id }}"},
            },
        ]
        config = write_config(tmp_path / "c.yaml", kit.config(tmp_path, **tickets_workflow(steps)))
        kit.ok(kit.http.post("/ticket", json={"externalId": "Z-1", "title": "t"}))
        before = time.time()
        (run,) = await poll_and_run(config, store, "tickets")

    (task,) = kit.state.tasks.values()
    assert (run.workflow, run.state, run.error) == ("follow-up", "succeeded", None)
    assert run.key.startswith(f"tickets:{decoded(run.trigger)['id']}@")
    assert receiver.bodies == [{"task": task["id"], "ticket": decoded(run.trigger)["id"]}]
    assert [(s.index, s.name, s.state, s.attempts, s.error) for s in run.steps] == [
        (0, "task", "succeeded", 1, None),
        (1, "hook", "succeeded", 1, None),
        (2, "event", "succeeded", 1, None),
    ]
    first, second, third = run.steps
    assert decoded(first.input) == {
        "body": {"name": "Follow up Z-1", "priority": "low", "status": "open"}
    }
    assert decoded(first.output)["id"] == task["id"]
    assert decoded(second.output) == {"status": 200, "body": {"ok": True}}
    assert decoded(third.output) == {"messageId": f"workflow:{run.id}:event"}
    for step in run.steps:
        assert step.finished_at is not None and before <= step.started_at <= step.finished_at
    page = await store.read_new("any", ["custify"], 10)
    (event,) = [decoded(e.payload) for e in page.events]
    assert (event["event"], event["properties"]) == (
        "Followed Up",
        {"task": task["id"], "run": run.id},
    )
    listed = await store.workflow_runs("follow-up")
    assert [(r.id, r.state, r.key, r.steps) for r in listed] == [(run.id, "succeeded", run.key, ())]


async def test_a_permanent_error_stops_the_run_until_it_is_retried_after_a_fix(
    kit: Kit, tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    update = {
        "id": "triage",
        "action": "tasks.update",
        "input": {"id": "{{ steps.task.output.id }}"},
        "body": {"priority": "${PRIORITY}"},
    }
    document = kit.config(tmp_path, **tickets_workflow([TASK, update]))
    kit.ok(kit.http.post("/ticket", json={"externalId": "Z-1", "title": "t"}))
    monkeypatch.setenv("PRIORITY", "urgent")  # not a task priority: refused
    broken = write_config(tmp_path / "c.yaml", document)
    (failed,) = await poll_and_run(broken, store, "tickets")
    monkeypatch.setenv("PRIORITY", "high")  # the fix
    fixed = write_config(tmp_path / "c.yaml", document)

    assert failed.state == "failed"
    assert failed.error is not None and failed.error.startswith("step triage: ")
    assert "priority" in failed.error
    assert [(s.name, s.state, s.attempts) for s in failed.steps] == [
        ("task", "succeeded", 1),
        ("triage", "failed", 1),  # a permanent error is not tried again
    ]
    (shown,) = await store.workflow_runs("follow-up")
    assert (shown.id, shown.state) == (failed.id, "failed")  # stays visible
    assert await store.unfinished_runs(time.time()) == []  # and is not retried by itself

    assert await store.retry_run(failed.id, time.time())
    workflows = Workflows(fixed, store)
    try:
        retried = await workflows.run(failed.id)
    finally:
        await workflows.stop()

    assert retried is not None and (retried.state, retried.error) == ("succeeded", None)
    assert [(s.name, s.state, s.attempts) for s in retried.steps] == [
        ("task", "succeeded", 1),  # not repeated
        ("triage", "succeeded", 2),
    ]
    (task,) = kit.state.tasks.values()
    assert task["priority"] == "high"
    assert len(kit.requests("POST", "/task")) == 1


async def test_429s_slow_the_step_down_until_it_goes_through(kit: Kit, tmp_path: Path) -> None:
    document = kit.config(tmp_path, **tickets_workflow([TASK]))
    document["custify_connections"]["sandbox"]["max_attempts"] = 2
    config = write_config(tmp_path / "c.yaml", document)
    limiter = LIMITERS.get(resolve(config.custify_connections, None).rate_limit)
    retries = metrics.RETRIES.labels("follow-up", "task")
    retried_before = retries._value.get()
    kit.ok(kit.http.post("/ticket", json={"externalId": "Z-1", "title": "t"}))
    store = await SQLiteStore.open(tmp_path / "events.db")
    workflows = Workflows(config, store)
    triggers = Triggers(config, store, on_record=workflows.accept)
    try:
        await triggers.poll("tickets")
        (id,) = await store.unfinished_runs(time.time())
        kit.faults(script=[429, 429, 429, 429])  # two tries of two attempts each
        run = await workflows.run(id)
    finally:
        await triggers.stop()
        await workflows.stop()
        await store.close()

    assert run is not None and run.state == "succeeded"
    (step,) = run.steps
    assert (step.state, step.attempts, step.error) == ("succeeded", 3, None)
    assert [r["status"] for r in kit.requests("POST", "/task")] == [429, 429, 429, 429, 200]
    assert len(kit.state.tasks) == 1
    assert limiter.throttled == 4  # each 429 paused the key for its Retry-After
    assert limiter.rate < limiter.ceiling  # and halved the pace
    assert retries._value.get() - retried_before == 2


def signed(secret: str, body: bytes) -> dict[str, str]:
    return {"X-Custify-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


async def test_one_record_starts_one_run_when_pushed_twice_and_polled(
    kit: Kit, tmp_path: Path
) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as hook:
        document = kit.config(
            tmp_path,
            triggers={"notes": {"type": "note_created", "since": SINCE, "push": {"secret": "s"}}},
            workflows={
                "tell": {"trigger": "notes", "steps": [{"id": "hook", "webhook": hook.url}]}
            },
        )
        config = write_config(tmp_path / "c.yaml", document)
        person = kit.ok(kit.http.post("/people", json={"user_id": "u1"}))["id"]
        note = kit.ok(
            kit.http.post("/note", json={"text": "hi", "entity": person, "entityModel": "Customer"})
        )
        body = msgspec.json.encode({"event": "note.created", "data": note})
        store = await SQLiteStore.open(tmp_path / "events.db")
        workflows = Workflows(config, store)
        triggers = Triggers(config, store, on_record=workflows.accept)
        try:
            first = await triggers.receive("notes", body, signed("s", body))
            again = await triggers.receive("notes", body, signed("s", body))  # Custify's retry
            # The store forgets what the trigger handed on (as after a crash between the hand-off
            # and its mark): the poll hands the same record on again.
            await store.reset_trigger("notes")
            polled = await triggers.poll("notes")
            runs = [await workflows.run(id) for id in await store.unfinished_runs(time.time())]
        finally:
            await triggers.stop()
            await workflows.stop()
            await store.close()

    assert first == {"accepted": note["id"]}
    assert again == {"duplicate": note["id"]}
    assert polled == 1  # handed on a second time...
    assert [r.state for r in runs if r is not None] == ["succeeded"]  # ...and still one run
    assert len(receiver.bodies) == 1
    assert receiver.bodies[0]["id"] == note["id"]


def tracked(name: str, message_id: str, source: str = "app") -> NewEvent:
    event = {"type": "track", "event": name, "userId": "u1", "messageId": message_id}
    return accept_event({**event, "properties": {"plan": "pro"}}, "track", source, 0)


async def test_a_pipeline_track_event_starts_a_run_once(
    kit: Kit, tmp_path: Path, store: Store
) -> None:
    receiver = Receiver()
    with ServerThread(receiver) as hook:
        step = {
            "id": "hook",
            "webhook": hook.url,
            "body": {"plan": "{{ trigger.properties.plan }}"},
        }
        workflow = {"event": {"source": "app", "track": "Signed Up"}, "steps": [step]}
        document = kit.config(tmp_path, workflows={"welcome": workflow})
        document["sources"].append({"name": "app", "write_key": "wk2"})
        config = write_config(tmp_path / "c.yaml", document)
        workflows = Workflows(config, store)
        try:
            await store.append([tracked("Signed Up", "before")])
            assert await workflows.feed("welcome") == 0  # starts at the end of the log
            await store.append(
                [
                    tracked("Signed Up", "m1"),
                    tracked("Logged In", "m2"),
                    tracked("Signed Up", "m3", source="custify"),  # another source
                ]
            )
            assert await workflows.feed("welcome") == 1
            assert await workflows.feed("welcome") == 0  # read once
            runs = [await workflows.run(id) for id in await store.unfinished_runs(time.time())]
        finally:
            await workflows.stop()

    assert [(r.key, r.state) for r in runs if r is not None] == [("app:m1", "succeeded")]
    assert receiver.bodies == [{"plan": "pro"}]


async def test_a_webhook_step_retries_5xx_and_stops_on_4xx(kit: Kit, tmp_path: Path) -> None:
    answers = {0: "500", 1: "500", 3: "400"}  # the first run: 500, 500, ok; the second: 400
    receiver = Receiver(lambda n, _body: answers.get(n))
    with ServerThread(receiver) as hook:
        step = {"id": "hook", "webhook": hook.url, "retry": {"backoff_s": 0}}
        config = write_config(tmp_path / "c.yaml", kit.config(tmp_path, **tickets_workflow([step])))
        kit.ok(kit.http.post("/ticket", json={"externalId": "Z-1", "title": "t"}))
        store = await SQLiteStore.open(tmp_path / "events.db")
        try:
            (retried,) = await poll_and_run(config, store, "tickets")
            kit.ok(kit.http.post("/ticket", json={"externalId": "Z-2", "title": "t"}))
            (refused,) = await poll_and_run(config, store, "tickets")
        finally:
            await store.close()

    assert retried.state == "succeeded"
    assert [(s.state, s.attempts) for s in retried.steps] == [("succeeded", 3)]
    assert refused.state == "failed"
    (step_run,) = refused.steps
    assert (step_run.state, step_run.attempts) == ("failed", 1)
    assert step_run.error == f'POST {hook.url}: HTTP 400: {{"error": "injected"}}'
    assert [b["record"]["externalId"] for b in receiver.bodies] == ["Z-1"]


async def test_secrets_of_the_configuration_are_masked_in_what_is_recorded(
    kit: Kit, tmp_path: Path
) -> None:
    receiver = Receiver(lambda _n, _body: "400")
    with ServerThread(receiver) as hook:
        step = {"id": "hook", "webhook": f"{hook.url}/?token={API_KEY}", "body": {"key": API_KEY}}
        config = write_config(tmp_path / "c.yaml", kit.config(tmp_path, **tickets_workflow([step])))
        kit.ok(kit.http.post("/ticket", json={"externalId": "Z-1", "title": "t"}))
        store = await SQLiteStore.open(tmp_path / "events.db")
        try:
            (run,) = await poll_and_run(config, store, "tickets")
        finally:
            await store.close()
        shown = await dry_run(config, "follow-up", decoded(run.trigger))

    (recorded,) = run.steps
    assert run.state == "failed"
    assert API_KEY.encode() not in (recorded.input or b"")
    assert decoded(recorded.input) == {"body": {"key": mask(API_KEY)}}
    assert (
        recorded.error is not None
        and API_KEY not in recorded.error
        and mask(API_KEY) in recorded.error
    )
    assert run.error is not None and API_KEY not in run.error
    assert API_KEY not in json.dumps(shown)
    assert shown["requests"][0]["body"] == {"key": mask(API_KEY)}


async def test_stopping_gives_a_run_in_backoff_back_for_the_next_process(
    kit: Kit, tmp_path: Path
) -> None:
    receiver = Receiver(lambda _n, _body: "503")
    with ServerThread(receiver) as hook:
        step = {"id": "hook", "webhook": hook.url, "retry": {"backoff_s": 3600}}
        config = write_config(tmp_path / "c.yaml", kit.config(tmp_path, **tickets_workflow([step])))
        kit.ok(kit.http.post("/ticket", json={"externalId": "Z-1", "title": "t"}))
        store = await SQLiteStore.open(tmp_path / "events.db")
        workflows = Workflows(config, store)
        triggers = Triggers(config, store, on_record=workflows.accept)
        try:
            workflows.start()
            await triggers.poll("tickets")
            (created,) = await store.workflow_runs("follow-up")  # running already, maybe
            id = created.id

            async def failed_once() -> bool:
                run = await store.workflow_run(id)
                return run is not None and bool(run.steps) and run.steps[0].error is not None

            deadline = time.monotonic() + 30
            while not await failed_once():  # the step met its 503 and waits an hour to retry
                assert time.monotonic() < deadline, "the step never failed"
                await asyncio.sleep(0.01)
            await workflows.stop()  # does not wait the hour
            run = await store.workflow_run(id)
            waiting = await store.unfinished_runs(time.time())
        finally:
            await workflows.stop()
            await triggers.stop()
            await store.close()

    assert run is not None and run.state == "queued" and run.owner is None
    assert [(s.state, s.attempts) for s in run.steps] == [("running", 1)]
    assert waiting == [id]  # the next process resumes it at once
    assert receiver.requests == 1


async def test_the_trigger_cursor_waits_for_the_runs_to_be_created(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "c.yaml", kit.config(tmp_path, **tickets_workflow([TASK])))
    kit.ok(kit.http.post("/ticket", json={"externalId": "Z-1", "title": "t"}))
    store = await SQLiteStore.open(tmp_path / "events.db")
    workflows = Workflows(config, store)
    triggers = Triggers(config, store, on_record=workflows.accept)
    create_run = store.create_run

    async def down(*_args: Any) -> int | None:
        raise StoreUnavailable("disk full")

    try:
        monkeypatch.setattr(store, "create_run", down)
        with pytest.raises(StoreUnavailable):
            await triggers.poll("tickets")
        cursors = await store.trigger_cursors("tickets")
        monkeypatch.setattr(store, "create_run", create_run)
        handed = await triggers.poll("tickets")  # the record is offered again
        runs = await store.workflow_runs("follow-up")
    finally:
        await triggers.stop()
        await workflows.stop()
        await store.close()

    assert "" not in cursors  # the cursor did not move past the record
    assert handed == 1
    assert [r.state for r in runs] == ["queued"]
