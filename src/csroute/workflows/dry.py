"""A dry run: what a workflow would do with one trigger record, without doing any of it.

Conditions are decided and every step's input computed as in a real run; each step adds the
exact request it would make to the answer (Custify's API key masked). Step outputs are unknown
before a real run, so a later step that reads one shows ``<steps.<id>.output...>`` there.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from csroute.workflows.conditions import hold
from csroute.workflows.expressions import ExpressionError, Unknown, render_all
from csroute.workflows.steps import Setup, StepFailed, Steps, scrubbing


async def dry_run(
    config: Setup, name: str, trigger: Any, secrets: Collection[str] = ()
) -> dict[str, Any]:
    workflow = config.workflows[name]
    context: dict[str, Any] = {
        "trigger": trigger,
        "steps": {},
        "workflow": {"name": name},
        "run": {"id": Unknown("<run.id>")},
    }
    answer: dict[str, Any] = {"workflow": name, "dry_run": True, "trigger": trigger}
    steps = Steps(config, None, dry_run=True)
    where = "when"
    try:
        if not hold(workflow.when, context):
            return {**answer, "conditions": "not met: the run would be skipped", "requests": []}
        for step in workflow.steps:
            where = f"step {step.id}"
            values = render_all(step.input, context)
            body = render_all(step.body, context)
            if step.track is not None and step.track.user_id:
                values = {"user_id": render_all(step.track.user_id, context)}
            if step.webhook is not None and step.body is None:
                body = trigger
            await steps.run(step, workflow.connection, values, body, f"<run.id>:{step.id}")
            context["steps"][step.id] = {
                "input": values if body is None else {**values, "body": body},
                "output": Unknown(f"<steps.{step.id}.output>"),
            }
    except (ExpressionError, StepFailed) as e:
        answer["error"] = f"{where}: {e}"
    finally:
        await steps.close()
    shown = scrubbing(config, secrets).json(
        {**answer, "conditions": "met", "requests": steps.requests}
    )
    return dict(shown)
