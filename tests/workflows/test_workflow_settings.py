"""The configuration check of ``workflows:``: every mistake is found before anything runs, and
named with its workflow, step and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from csroute.config import ConfigError, load


def check(tmp_path: Path, workflows: dict[str, Any], **more: Any) -> list[str]:
    document = {
        "sources": [{"name": "app", "write_key": "wk"}],
        "custify_connections": {"prod": {"api_key": "k"}},
        "triggers": {"tickets": {"type": "Ticket Created"}},
        "workflows": workflows,
        **more,
    }
    path = tmp_path / "csroute.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load(path)
    except ConfigError as e:
        return e.problems
    return []


def step(**fields: Any) -> dict[str, Any]:
    return {"id": "s", "action": "tasks.create", "body": {"name": "x"}, **fields}


def test_a_good_workflow_passes_and_lets_its_trigger_go_without_other_outputs(
    tmp_path: Path,
) -> None:
    good = {
        "trigger": "tickets",
        "when": [{"value": "{{ trigger.record.priority }}", "one_of": ["high", "urgent"]}],
        "steps": [
            step(id="task", body={"name": "Follow up {{ trigger.record.title | upper }}"}),
            {
                "id": "note",
                "action": "notes.update",
                "input": {"id": "{{ steps.task.output.id }}"},
                "body": {"text": "{{ steps.task.input.body.name }} / {{ run.id }}"},
            },
            {"id": "hook", "webhook": "https://example.com/h"},
            {"id": "event", "track": {"source": "app", "event": "Followed up"}, "body": {"a": 1}},
        ],
    }
    assert check(tmp_path, {"follow-up": good}) == []
    body = {"name": "{{ trigger.properties.plan }} {{ trigger.userId }}"}
    pipeline = {"event": {"source": "app", "track": "Signed Up"}, "steps": [step(body=body)]}
    assert check(tmp_path, {"follow-up": good, "signup": pipeline}) == []


@pytest.mark.parametrize(
    ("workflow", "problem"),
    [
        ({"steps": [step()]}, "workflows.w: give exactly one of trigger"),
        ({"trigger": "nope", "steps": [step()]}, "workflows.w.trigger: no trigger named 'nope'"),
        (
            {"event": {"source": "web", "track": "X"}, "steps": [step()]},
            "workflows.w.event.source: no source named 'web'",
        ),
        ({"trigger": "tickets", "steps": []}, "workflows.w.steps: a workflow needs at least one"),
        (
            {"trigger": "tickets", "steps": [step(action="tasks.creat")]},
            "workflows.w.steps[0] (s).action: unknown action 'tasks.creat'",
        ),
        (
            {"trigger": "tickets", "steps": [step(action="tasks.list", body=None)]},
            "workflows.w.steps[0] (s).action: tasks.list lists records",
        ),
        (
            {"trigger": "tickets", "steps": [step(input={"idd": "1"})]},
            "workflows.w.steps[0] (s).input.idd: tasks.create takes no 'idd'",
        ),
        (
            {"trigger": "tickets", "steps": [step(action="tasks.update")]},
            "workflows.w.steps[0] (s).input.id: required by tasks.update",
        ),
        (
            {"trigger": "tickets", "steps": [step(action="tags.delete", input={"id": "1"})]},
            "workflows.w.steps[0] (s).body: tags.delete takes no body",
        ),
        (
            {"trigger": "tickets", "steps": [step(body={"name": "{{ trigger.record.nope }}"})]},
            "workflows.w.steps[0] (s).body.name: {{ trigger.record.nope }}: the trigger's record"
            " has no field 'nope'",
        ),
        (
            {"trigger": "tickets", "steps": [step(body={"name": "{{ trigger.idd }}"})]},
            "workflows.w.steps[0] (s).body.name: {{ trigger.idd }}: the trigger's records have no"
            " 'idd'",
        ),
        (
            {"trigger": "tickets", "steps": [step(body={"name": "{{ steps.later.output.id }}"})]},
            "workflows.w.steps[0] (s).body.name: {{ steps.later.output.id }}: no earlier step"
            " named 'later' (steps before this one: none)",
        ),
        (
            {
                "trigger": "tickets",
                "steps": [step(id="a"), step(id="b", body={"n": "{{ steps.a.out }}"})],
            },
            "workflows.w.steps[1] (b).body.n: {{ steps.a.out }}: a step has input and output",
        ),
        (
            {"trigger": "tickets", "steps": [step(body={"name": "{{ trigger.id | shout }}"})]},
            "workflows.w.steps[0] (s).body.name: {{ trigger.id | shout }}: unknown filter 'shout'",
        ),
        (
            {"trigger": "tickets", "steps": [step(body={"name": "{{ trigger.id"})]},
            "workflows.w.steps[0] (s).body.name: {{ at character 1 is never closed",
        ),
        (
            {"trigger": "tickets", "steps": [step(), step()]},
            "workflows.w.steps[1] (s).id: another step is named 's'",
        ),
        (
            {"trigger": "tickets", "steps": [step(webhook="https://x")]},
            "workflows.w.steps[0] (s): give exactly one of action, webhook or track",
        ),
        (
            {"trigger": "tickets", "steps": [{"id": "h", "webhook": "ftp://x", "input": {"a": 1}}]},
            "workflows.w.steps[0] (h).input: only actions take input",
        ),
        (
            {
                "trigger": "tickets",
                "steps": [{"id": "e", "track": {"source": "web", "event": "E"}}],
            },
            "workflows.w.steps[0] (e).track.source: no source named 'web'",
        ),
        (
            {"trigger": "tickets", "steps": [step(connection="staging")]},
            "workflows.w.steps[0] (s).connection: ",
        ),
        (
            {"trigger": "tickets", "steps": [step(retry={"max_attempts": 0})]},
            "workflows.w.steps[0] (s).retry.max_attempts: must be at least 1",
        ),
        (
            {"trigger": "tickets", "when": [{"value": "{{ trigger.id }}"}], "steps": [step()]},
            "workflows.w.when[0]: give exactly one of equals",
        ),
        (
            {"trigger": "tickets", "steps": [step(bogus=1)]},
            "workflows.w.steps[0].bogus: unknown key",
        ),
    ],
)
def test_each_mistake_is_named_with_its_workflow_step_and_field(
    tmp_path: Path, workflow: dict[str, Any], problem: str
) -> None:
    problems = check(tmp_path, {"w": workflow})
    assert any(p.startswith(problem) for p in problems), problems


def test_a_trigger_that_feeds_no_workflow_still_needs_an_output(tmp_path: Path) -> None:
    problems = check(tmp_path, {})
    assert "triggers.tickets: needs somewhere to send records (track, webhook, or a workflow)" in (
        problems
    )


def test_an_action_needs_a_custify_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CSROUTE_CUSTIFY_API_KEY", raising=False)
    monkeypatch.delenv("CSROUTE_CUSTIFY_CONNECTION", raising=False)
    hook = {"id": "h", "webhook": "https://example.com/h"}
    workflow = {"trigger": "tickets", "steps": [hook, step()]}
    problems = check(tmp_path, {"w": workflow}, custify_connections={})
    assert [p for p in problems if p.startswith("workflows.")] == [
        "workflows.w.steps[1] (s).connection: no Custify connection chosen: pass --connection NAME"
        " (known: none configured) or set CSROUTE_CUSTIFY_API_KEY"
    ]
