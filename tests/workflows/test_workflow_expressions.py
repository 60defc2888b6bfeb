"""The expression syntax: paths, filters, types kept or turned into text, and clear errors for
everything malformed (hypothesis throws arbitrary text at the parser)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csroute.workflows.conditions import hold
from csroute.workflows.expressions import (
    ExpressionError,
    Unknown,
    parse,
    render,
    render_all,
    templates,
)
from csroute.workflows.settings import Condition

CONTEXT: dict[str, Any] = {
    "trigger": {
        "id": "t1",
        "at": "2026-03-02T10:15:00.000Z",
        "record": {
            "title": "Printer On Fire",
            "company": ["c1", "c2"],
            "priority": None,
            "size": 3,
        },
    },
    "steps": {"task": {"input": {"name": "x"}, "output": {"id": "k9", "tags": ["a", "b"]}}},
    "workflow": {"name": "w"},
    "run": {"id": 7},
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{ trigger.id }}", "t1"),
        ("{{trigger.record.size}}", 3),  # a lone expression keeps its type
        ("{{ trigger.record.company }}", ["c1", "c2"]),
        ("{{ trigger.record.company.1 }}", "c2"),
        ("size {{ trigger.record.size }}", "size 3"),  # inside text: text
        ("{{ steps.task.output.id }}/{{ run.id }}", "k9/7"),
        ("{{ workflow.name | upper }}", "W"),
        ("{{ trigger.record.title | lower }}", "printer on fire"),
        ("{{ trigger.record.nope | default('none') }}", "none"),
        ('{{ trigger.record.priority | default("medium") | upper }}', "MEDIUM"),
        ("{{ trigger.record.priority | default(2) }}", 2),
        ("{{ trigger.record.title | default('x') }}", "Printer On Fire"),
        ("{{ trigger.record.company | join }}", "c1, c2"),
        ("{{ steps.task.output.tags | join('|') }}", "a|b"),
        ("{{ trigger.at | date }}", "2026-03-02"),
        ("{{ trigger.at | date('%d/%m %H:%M') }}", "02/03 10:15"),
        ("{{ trigger.at | plus_days(2) }}", "2026-03-04T10:15:00.000Z"),
        ("{{ trigger.record.company | json }}", '["c1","c2"]'),
        ("no expression at all", "no expression at all"),
        ("{{ trigger.record.priority }}", None),
        ("[{{ trigger.record.priority }}]", "[]"),
    ],
)
def test_values(text: str, value: Any) -> None:
    assert render(parse(text), CONTEXT) == value


def test_every_string_of_an_input_is_rendered_in_place() -> None:
    given = {"ids": ["{{ trigger.id }}", "fixed"], "n": 5, "nested": {"t": "{{ run.id }}"}}
    assert render_all(given, CONTEXT) == {"ids": ["t1", "fixed"], "n": 5, "nested": {"t": 7}}
    assert [where for where, _ in templates(given)] == ["ids[0]", "nested.t"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{{ trigger.id", "is never closed"),
        ("a }} b", "has no {{"),
        ("{{ }}", "a path is missing"),
        ("{{ record.id }}", "a path starts with trigger, steps, workflow, run"),
        ("{{ trigger..id }}", "'' is not a path segment"),
        ("{{ trigger.id + 1 }}", "is not a path segment"),
        ("{{ trigger.id | shout }}", "unknown filter 'shout'"),
        ("{{ trigger.id | default(x) }}", "a filter argument is a quoted text"),
        ("{{ trigger.id | default('x }}", "a quoted text is never closed"),
        ("{{ trigger.id | join(',' }}", "is never closed by )"),
        ("{{ trigger.at | plus_days }}", "needs an argument"),
        ("{{ __import__('os') }}", "is not a path segment"),
    ],
)
def test_malformed_expressions_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(says)):
        parse(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{{ trigger.record.nope }}", "trigger.record.nope is missing (add | default"),
        ("{{ trigger.record.nope | upper }}", "trigger.record.nope is missing"),
        ("{{ trigger.record.company.5 }}", "trigger.record.company.5 is missing"),
        ("{{ trigger.record.size | lower }}", "int is not text"),
        ("{{ trigger.record.title | join }}", "join needs a list, not str"),
        ("{{ trigger.record.title | date }}", "'Printer On Fire' is not an ISO-8601 time"),
    ],
)
def test_values_that_cannot_be_computed_say_why(text: str, says: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(says)):
        render(parse(text), CONTEXT)


def test_unknown_values_of_a_dry_run_show_their_path() -> None:
    context = {**CONTEXT, "steps": {"task": {"output": Unknown("<steps.task.output>")}}}
    assert render(parse("{{ steps.task.output.id }}"), context) == "<steps.task.output.id>"
    assert render(parse("id={{ steps.task.output.id }}"), context) == "id=<steps.task.output.id>"
    alone = render(parse("{{ steps.task.output.tags | join }}"), context)
    assert (alone, type(alone)) == ("<steps.task.output.tags>", str)  # plain text, as JSON takes


@given(st.text(alphabet=st.sampled_from(list("{}|()'\".,_ aZ09-trigersp")), max_size=40))
def test_any_text_parses_or_fails_with_an_expression_error(text: str) -> None:
    try:
        template = parse(text)
    except ExpressionError as e:
        assert str(e)  # a message, never an empty error
        return
    rebuilt = "".join(p if isinstance(p, str) else "{{" for p in template.parts)
    assert "}}" not in rebuilt


@given(st.text(max_size=30))
def test_any_text_inside_braces_parses_or_fails_with_an_expression_error(inner: str) -> None:
    try:
        template = parse("{{" + inner + "}}")
    except ExpressionError as e:
        assert "{{" in str(e) or "}}" in str(e)  # it quotes what it refused
        return
    try:
        render(template, CONTEXT)
    except ExpressionError as e:
        assert "{{" in str(e)


@pytest.mark.parametrize(
    ("test", "value", "holds"),
    [
        ({"equals": "high"}, "{{ trigger.record.priority | default('high') }}", True),
        ({"equals": 3}, "{{ trigger.record.size }}", True),
        ({"not_equals": 3}, "{{ trigger.record.size }}", False),
        ({"one_of": ["c2", "c3"]}, "{{ trigger.record.company.1 }}", True),
        ({"contains": "c1"}, "{{ trigger.record.company }}", True),
        ({"contains": "Fire"}, "{{ trigger.record.title }}", True),
        ({"not_contains": "c1"}, "{{ trigger.record.company }}", False),
        ({"not_contains": "c1"}, "{{ trigger.record.nope }}", True),  # missing: holds
        ({"equals": None}, "{{ trigger.record.nope }}", False),  # missing fails the others
        ({"exists": True}, "{{ trigger.record.nope }}", False),
        ({"exists": False}, "{{ trigger.record.nope }}", True),
        ({"exists": False}, "{{ trigger.record.priority }}", True),  # null
        ({"exists": True}, "{{ trigger.record.company.0 }}", True),
    ],
)
def test_conditions(test: dict[str, Any], value: str, holds: bool) -> None:
    assert hold([Condition(value=value, **test)], CONTEXT) is holds
