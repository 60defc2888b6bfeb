"""The ``workflows:`` section of the configuration file (docs/workflows.md).

Kept apart from ``csroute.config`` so that the section and its checks have one home; the main
configuration only names ``WorkflowConfig`` and calls ``problems`` with the other sections it
checks against, so that nothing here imports the configuration back.

The checks run before anything does: an unknown action, an input the action does not take, an
expression that does not parse, or one that names a step not run yet or a field the trigger's
records do not have, is reported with the workflow, the step and the field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from csroute.custify.settings import CustifyConnectionConfig
from csroute.triggers.settings import TriggerConfig
from csroute.workflows.expressions import Expression, ExpressionError, templates

DEFAULT_ATTEMPTS: Final = 5
"""Tries of a step that meets retryable errors (429, 5xx, no answer) before the run fails."""
DEFAULT_BACKOFF_S: Final = 2.0
"""The wait after a step's first retryable failure; it doubles with each try (429s wait as the
key's rate limiter says instead)."""
MAX_BACKOFF_S: Final = 300.0

EVENT_FIELDS: Final = frozenset(
    {
        "type",
        "event",
        "properties",
        "userId",
        "anonymousId",
        "messageId",
        "context",
        "timestamp",
        "sentAt",
        "receivedAt",
        "originalTimestamp",
        "integrations",
        "source",
    }
)
"""What a workflow started by a pipeline ``track`` event may read under ``trigger``."""


class _Struct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class EventTrigger(_Struct):
    """Start a run for every ``track`` event named ``track`` that ``source`` receives."""

    source: str
    track: str


class Condition(_Struct):
    """One condition on the trigger record; a run goes ahead only when all of them hold.

    ``value`` is an expression; exactly one of the tests compares it.
    """

    value: str
    equals: Any = msgspec.UNSET
    not_equals: Any = msgspec.UNSET
    one_of: list[Any] | msgspec.UnsetType = msgspec.UNSET
    contains: Any = msgspec.UNSET
    """A list holds this item, or a text this text."""
    not_contains: Any = msgspec.UNSET
    exists: bool | msgspec.UnsetType = msgspec.UNSET
    """``true``: the field is there and not null; ``false``: it is not."""

    def tests(self) -> list[str]:
        names = ("equals", "not_equals", "one_of", "contains", "not_contains", "exists")
        return [name for name in names if getattr(self, name) is not msgspec.UNSET]


class TrackStep(_Struct):
    """Append a ``track`` event to the pipeline, from ``source``; ``body`` is its properties."""

    source: str
    event: str
    user_id: str | None = None
    """An expression or text: the event's ``userId`` (default: one anonymous id per run)."""


class RetryConfig(_Struct):
    max_attempts: int = DEFAULT_ATTEMPTS
    backoff_s: float = DEFAULT_BACKOFF_S


class StepConfig(_Struct):
    id: str
    """Names the step in ``steps.<id>`` expressions, the run history and errors."""
    action: str | None = None
    """A Custify client action, ``<resource>.<action>`` as in ``csroute custify``:
    ``tasks.create``, ``notes.create``, ``people.get``..."""
    webhook: str | None = None
    """POST ``body`` as JSON to this URL."""
    track: TrackStep | None = None
    input: dict[str, Any] = {}
    """The action's arguments, by name (``id``, ``email``...): values may hold expressions."""
    body: Any = None
    """The action's JSON body, the webhook's body (default: the trigger record), or the track
    event's properties; values may hold expressions."""
    connection: str | None = None
    """The Custify connection of an action (default: the workflow's)."""
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)

    @property
    def kind(self) -> str:
        return "action" if self.action else "webhook" if self.webhook else "track"


class WorkflowConfig(_Struct):
    trigger: str | None = None
    """A trigger of the ``triggers:`` section, by name."""
    event: EventTrigger | None = None
    """Or: a ``track`` event from a pipeline source."""
    description: str | None = None
    connection: str | None = None
    """The Custify connection of the action steps (default: as for ``csroute custify``)."""
    when: list[Condition] = []
    steps: list[StepConfig] = []
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class _Setup:
    """What the checks read of the rest of the configuration."""

    sources: Collection[str]
    triggers: Mapping[str, TriggerConfig]
    connections: Mapping[str, CustifyConnectionConfig]


def problems(
    workflows: Mapping[str, WorkflowConfig],
    sources: Collection[str],
    triggers: Mapping[str, TriggerConfig],
    connections: Mapping[str, CustifyConnectionConfig],
) -> list[str]:
    """Every problem of every workflow against the configured ``sources`` (names), ``triggers``
    and Custify ``connections``, each prefixed with its key path."""
    config = _Setup(sources, triggers, connections)
    found: list[str] = []
    for name, workflow in workflows.items():
        where = f"workflows.{name}"
        if "/" in name or not name.strip():
            found.append(f"{where}: a workflow name must be non-empty and have no '/'")
        found.extend(f"{where}{p}" for p in _workflow_problems(workflow, config))
    return found


def _workflow_problems(workflow: WorkflowConfig, config: _Setup) -> list[str]:
    from csroute.custify.client.connection import ConnectionNotFound, resolve

    found: list[str] = []
    if (workflow.trigger is None) == (workflow.event is None):
        found.append(": give exactly one of trigger (a trigger's name) or event (source, track)")
    fields = _trigger_fields(workflow, config, found)
    if workflow.event is not None and workflow.event.source not in config.sources:
        found.append(f".event.source: no source named {workflow.event.source!r}")
    for i, condition in enumerate(workflow.when):
        tests = condition.tests()
        if len(tests) != 1:
            found.append(
                f".when[{i}]: give exactly one of equals, not_equals, one_of, contains,"
                " not_contains, exists"
            )
        found.extend(f".when[{i}].value{p}" for p in _references({"": condition.value}, fields, []))
    if not workflow.steps:
        found.append(".steps: a workflow needs at least one step")
    earlier: list[str] = []
    for i, step in enumerate(workflow.steps):
        at = f".steps[{i}]" + (f" ({step.id})" if step.id else "")
        if not step.id.strip() or "." in step.id:
            found.append(f"{at}.id: a step id must be non-empty and have no '.'")
        elif step.id in earlier:
            found.append(f"{at}.id: another step is named {step.id!r}")
        found.extend(at + p for p in _step_problems(step, config))
        if step.action:
            try:
                resolve(config.connections, step.connection or workflow.connection)
            except ConnectionNotFound as e:
                found.append(f"{at}.connection: {e}")
        found.extend(at + p for p in _references({"input": step.input}, fields, earlier))
        found.extend(at + p for p in _references({"body": step.body}, fields, earlier))
        if step.track is not None and step.track.user_id:
            found.extend(
                at + p for p in _references({"track.user_id": step.track.user_id}, fields, earlier)
            )
        earlier.append(step.id)
    return found


def _trigger_fields(
    workflow: WorkflowConfig, config: _Setup, found: list[str]
) -> tuple[frozenset[str], frozenset[str]] | None:
    """What ``trigger.*`` may name: the envelope's keys and the record's fields (None: any)."""
    if workflow.event is not None:
        return EVENT_FIELDS, frozenset()
    if workflow.trigger is None:
        return None
    trigger = config.triggers.get(workflow.trigger)
    if trigger is None:
        known = ", ".join(sorted(config.triggers)) or "none configured"
        found.append(f".trigger: no trigger named {workflow.trigger!r} (known: {known})")
        return None
    from csroute.triggers.catalog import find, output_shape

    kind = find(trigger.type)
    if kind is None:
        return None  # the trigger's own check reports it
    shape = output_shape(kind)
    return frozenset(shape), frozenset(kind.resource.fields)


def _step_problems(step: StepConfig, config: _Setup) -> list[str]:
    from csroute.custify.client.actions import BY_KEY

    kinds = [
        k
        for k, v in (("action", step.action), ("webhook", step.webhook), ("track", step.track))
        if v
    ]
    if len(kinds) != 1:
        return [": give exactly one of action, webhook or track"]
    found: list[str] = []
    if step.action is not None:
        action = BY_KEY.get(step.action)
        if action is None:
            return [f".action: unknown action {step.action!r} (see csroute custify --help)"]
        if action.kind == "list":
            found.append(f".action: {step.action} lists records; use a get or a write action")
        args = {arg.name: arg for arg in action.args}
        for name in step.input:
            if name not in args:
                takes = ", ".join(args) or "no arguments"
                found.append(f".input.{name}: {step.action} takes no {name!r} (it takes {takes})")
        for name, arg in args.items():
            if arg.required and name not in step.input:
                found.append(f".input.{name}: required by {step.action}")
            if arg.type == "path":
                found.append(f".input.{name}: a workflow cannot upload local files")
        if step.body is not None and not action.body:
            found.append(f".body: {step.action} takes no body (its values go in input)")
        if action.body and step.body is not None and not isinstance(step.body, dict):
            found.append(".body: must be a mapping of fields")
    else:
        if step.input:
            found.append(".input: only actions take input; a webhook or track step takes body")
        if step.connection is not None:
            found.append(".connection: only actions use a Custify connection")
    if step.webhook is not None and not step.webhook.startswith(("http://", "https://")):
        found.append(".webhook: must be an http:// or https:// URL")
    if step.track is not None and step.track.source not in config.sources:
        found.append(f".track.source: no source named {step.track.source!r}")
    if step.retry.max_attempts < 1:
        found.append(f".retry.max_attempts: must be at least 1 (got {step.retry.max_attempts})")
    if step.retry.backoff_s < 0:
        found.append(f".retry.backoff_s: must be 0 or more (got {step.retry.backoff_s})")
    return found


def _references(
    value: Any, fields: tuple[frozenset[str], frozenset[str]] | None, earlier: list[str]
) -> list[str]:
    found: list[str] = []
    try:
        parsed = list(templates(value))
    except ExpressionError as e:
        return [f"{'.' if e.where else ''}{e.where}: {e}"]
    for where, template in parsed:
        shown = f".{where}" if where else ""
        for expression in template.expressions:
            problem = _reference_problem(expression, fields, earlier)
            if problem:
                found.append(f"{shown}: {{{{ {expression.text} }}}}: {problem}")
    return found


def _reference_problem(
    expression: Expression, fields: tuple[frozenset[str], frozenset[str]] | None, earlier: list[str]
) -> str | None:
    path = expression.path
    if path[0] == "steps":
        if len(path) < 2:
            return "name a step: steps.<id>.output"
        if path[1] not in earlier:
            before = ", ".join(earlier) or "none"
            return f"no earlier step named {path[1]!r} (steps before this one: {before})"
        if len(path) > 2 and path[2] not in ("input", "output"):
            return f"a step has input and output, not {path[2]!r}"
    elif path[0] == "workflow":
        if path[1:] not in ((), ("name",)):
            return "workflow has only name"
    elif path[0] == "run":
        if path[1:] not in ((), ("id",)):
            return "run has only id"
    elif path[0] == "trigger" and fields is not None and len(path) > 1:
        envelope, record = fields
        if path[1] not in envelope:
            have = ", ".join(sorted(envelope))
            return f"the trigger's records have no {path[1]!r} (they have {have})"
        if path[1] == "record" and len(path) > 2 and record and path[2] not in record:
            return f"the trigger's record has no field {path[2]!r}"
    return None
