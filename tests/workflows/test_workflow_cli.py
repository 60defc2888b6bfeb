"""``csroute workflows list|run|history|retry``: a dry run shows every request (API key masked)
and sends nothing; --execute runs and records; the history reads back; retry resumes a failed
run from its failed step."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner
from workflows_support import API_KEY, Kit

from csroute.cli.main import app
from csroute.secrets import mask

STEPS = [
    {
        "id": "task",
        "action": "tasks.create",
        "body": {
            "name": "Follow up {{ trigger.record.title }}",
            "priority": "high",
            "status": "open",
        },
    },
    {
        "id": "note",
        "action": "notes.create",
        "body": {
            "text": "task {{ steps.task.output.id }}",
            "entity": "{{ trigger.record.company.0 | default('${NOTE_ENTITY:-none}') }}",
            "entityModel": "Company",
        },
    },
]


def setup(kit: Kit, tmp_path: Path) -> Path:
    path = tmp_path / "csroute.yaml"
    document = kit.config(
        tmp_path / "data",
        triggers={"tickets": {"type": "Ticket Created"}},
        workflows={"follow-up": {"trigger": "tickets", "steps": STEPS}},
    )
    path.write_text(yaml.safe_dump(document))
    return path


def cli(path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["workflows", *args, "--config", str(path)], env=env)


def test_a_dry_run_shows_every_request_with_the_key_masked_and_sends_nothing(
    kit: Kit, tmp_path: Path
) -> None:
    path = setup(kit, tmp_path)
    record = tmp_path / "ticket.json"
    record.write_text(
        json.dumps(
            {"id": "t1", "openedAt": "2026-01-01T00:00:00Z", "title": "Fire", "company": ["c9"]}
        )
    )

    shown = cli(path, "run", "follow-up", "--record", str(record))

    assert shown.exit_code == 0, shown.output
    assert API_KEY not in shown.output
    answer = json.loads(shown.output)
    assert answer["dry_run"] is True and answer["conditions"] == "met"
    assert (
        answer["trigger"]["record"]["id"] == "t1" and answer["trigger"]["type"] == "ticket_created"
    )
    task, note = answer["requests"]
    assert (task["method"], task["url"]) == ("POST", f"{kit.url}/task")
    assert task["body"]["name"] == "Follow up Fire"
    assert task["headers"]["Authorization"] == f"Bearer {mask(API_KEY)}"
    assert (note["url"], note["body"]["entity"]) == (f"{kit.url}/note", "c9")
    assert note["body"]["text"] == "task <steps.task.output.id>"
    assert kit.state.tasks == {} and kit.state.notes == {}

    kit.ok(kit.http.post("/company", json={"company_id": "acme"}))
    kit.ok(
        kit.http.post("/ticket", json={"externalId": "Z-1", "title": "Newest", "company": "acme"})
    )
    sampled = cli(path, "run", "follow-up", "--sample")
    assert sampled.exit_code == 0, sampled.output
    assert json.loads(sampled.output)["requests"][0]["body"]["name"] == "Follow up Newest"
    assert kit.state.tasks == {}

    assert cli(path, "run", "follow-up").exit_code == 2  # neither --record nor --sample
    assert cli(path, "run", "nope", "--sample").exit_code == 2


def test_execute_history_and_retry(kit: Kit, tmp_path: Path) -> None:
    path = setup(kit, tmp_path)
    migrated = CliRunner().invoke(app, ["db", "migrate", "--config", str(path)])
    assert migrated.exit_code == 0, migrated.output
    record = tmp_path / "ticket.json"
    record.write_text(json.dumps({"id": "t1", "openedAt": "2026-01-01T00:00:00Z", "title": "Fire"}))

    failed = cli(path, "run", "follow-up", "--record", str(record), "--execute")
    assert failed.exit_code == 1, failed.output  # no company: the note's entity is refused
    assert re.search(r"run (\d+): failed: step note: ", failed.output)
    run_id = re.findall(r"run (\d+): failed", failed.output)[0]

    listed = cli(path, "list")
    assert listed.exit_code == 0, listed.output
    assert re.search(
        rf"follow-up\s.*trigger tickets \(Ticket Created\)\s.*{run_id} failed", listed.output
    )
    history = cli(path, "history", "follow-up")
    assert history.exit_code == 0, history.output
    assert re.search(rf"{run_id}\s.*failed\s.*manual:", history.output)
    steps = cli(path, "history", "follow-up", "--run", run_id)
    assert re.search(r"0\s.*task\s.*succeeded\s.*1", steps.output)
    assert re.search(r"1\s.*note\s.*failed\s.*1", steps.output)

    company = kit.ok(kit.http.post("/company", json={"company_id": "acme"}))["id"]
    retried = cli(path, "retry", run_id, env={"NOTE_ENTITY": company})  # the fix
    assert retried.exit_code == 0, retried.output
    assert f"run {run_id}: succeeded" in retried.output
    assert len(kit.state.tasks) == 1 and len(kit.state.notes) == 1  # the task was not repeated

    again = cli(path, "retry", run_id)
    assert again.exit_code == 1
    assert "is succeeded, not failed" in again.output
    assert cli(path, "retry", "999").exit_code == 1


def test_list_and_history_run_without_the_api_key(kit: Kit, tmp_path: Path) -> None:
    path = setup(kit, tmp_path)
    document = yaml.safe_load(path.read_text())
    document["custify_connections"]["sandbox"]["api_key"] = "${WORKFLOW_TEST_UNSET_KEY}"
    path.write_text(yaml.safe_dump(document))
    migrated = CliRunner().invoke(app, ["db", "migrate", "--config", str(path)])
    assert migrated.exit_code == 0, migrated.output

    listed = cli(path, "list")
    assert listed.exit_code == 0, listed.output
    assert "follow-up" in listed.output
    history = cli(path, "history", "follow-up")
    assert history.exit_code == 0, history.output
    assert "workflow 'follow-up' has no runs yet" in history.output
    refused = cli(path, "run", "follow-up", "--sample")  # this one needs the key
    assert refused.exit_code == 2
    assert "WORKFLOW_TEST_UNSET_KEY is not set" in refused.output
