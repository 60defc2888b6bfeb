"""``csroute workflows``: list the configured workflows, try one on a record (a dry run unless
``--execute``), read a workflow's run history, and retry a run that failed."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, cast

import msgspec
import typer
from rich.markup import escape

from csroute.cli.common import (
    FAILED,
    OK,
    UNAVAILABLE,
    USAGE,
    ConfigOption,
    fail,
    load_config,
    out,
)
from csroute.cli.store_access import with_store
from csroute.cli.tables import print_table
from csroute.config import Config
from csroute.custify.client.errors import CustifyError, TransportError
from csroute.router.redact import config_secrets
from csroute.store.base import Store, WorkflowRun
from csroute.workflows.runner import Workflows, decoded

app = typer.Typer(
    help="Workflows: a trigger, conditions and steps, run durably.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="The workflow's name in the configuration.")]
SAMPLE_EVENT_USER = "sample-user"
READS_ONLY = ("workflows", "triggers", "sources")
"""``needs`` of ``list`` and ``history``: they read the store, so they run without the API keys."""


def _print_json(value: Any) -> None:
    out.print(msgspec.json.format(msgspec.json.encode(value)).decode(), highlight=False)


def _chosen(config: Config, name: str) -> None:
    if name not in config.workflows:
        known = ", ".join(sorted(config.workflows)) or "none configured"
        fail(f"no workflow named {name!r} in the configuration (known: {known})", USAGE)


def _starts_on(config: Config, name: str) -> str:
    w = config.workflows[name]
    if w.event is not None:
        return f"track {w.event.track!r} from {w.event.source}"
    trigger = config.triggers.get(w.trigger or "")
    return f"trigger {w.trigger} ({trigger.type})" if trigger else f"trigger {w.trigger}"


@app.command("list")
def list_(config: ConfigOption = None) -> None:
    """Every configured workflow: what starts it, its steps, its last run."""
    cfg = load_config(config, needs=READS_ONLY)

    async def last(store: Store) -> dict[str, WorkflowRun | None]:
        found = {name: await store.workflow_runs(name, limit=1) for name in cfg.workflows}
        return {name: runs[0] if runs else None for name, runs in found.items()}

    runs = with_store(cfg, last)
    rows = []
    for name, w in cfg.workflows.items():
        run = runs[name]
        rows.append(
            (
                name + ("" if w.enabled else " (disabled)"),
                _starts_on(cfg, name),
                " → ".join(f"{s.id} ({s.action or s.kind})" for s in w.steps),
                None if run is None else f"{run.id} {run.state}",
                None if run is None else run.updated_at,
            )
        )
    print_table(
        ("name", "starts on", "steps", "last run", "at"),
        rows,
        empty="no workflows in the configuration",
        instants=("at",),
    )


def _record(cfg: Config, name: str, path: Path | None, sample: bool) -> Any:
    """The trigger record to run on: read from a file, or the newest one of the trigger."""
    w = cfg.workflows[name]
    if (path is None) == (not sample):
        fail("give either --record FILE or --sample", USAGE)
    if path is not None:
        try:
            given = msgspec.json.decode(path.read_bytes())
        except OSError as e:
            fail(f"--record: cannot read {path} ({e.strerror})", USAGE)
        except msgspec.DecodeError as e:
            fail(f"--record: {path} is not JSON ({e})", USAGE)
        if not isinstance(given, dict):
            fail(f"--record: {path} must hold a JSON object", USAGE)
        return given if w.event is not None else _envelope(cfg, name, given)
    if w.event is not None:
        return {
            "type": "track",
            "event": w.event.track,
            "userId": SAMPLE_EVENT_USER,
            "messageId": f"sample-{uuid.uuid4().hex[:12]}",
            "properties": {},
        }
    return asyncio.run(_sample(cfg, w.trigger or ""))


def _envelope(cfg: Config, name: str, given: dict[str, Any]) -> dict[str, Any]:
    """A bare Custify record wrapped as its trigger hands it on (an envelope is kept as is)."""
    from csroute.triggers.catalog import find
    from csroute.triggers.poller import output

    if "record" in given and "trigger" in given:
        return given
    t = cfg.triggers[cfg.workflows[name].trigger or ""]
    trigger = find(t.type)
    assert trigger is not None, "the configuration check refuses unknown triggers"
    return output(cfg.workflows[name].trigger or "", trigger, given, "poll")


async def _sample(cfg: Config, trigger_name: str) -> dict[str, Any]:
    from csroute.triggers.runner import Triggers

    # A sample only reads the account; no store is opened (a dry run works before `csroute
    # serve` ever ran), and the poller's store is not touched by ``sample``.
    triggers = Triggers(cfg, cast(Store, None), names=[trigger_name])
    try:
        samples = await triggers.running[trigger_name].poller.sample(1)
    except TransportError as e:
        fail(str(e), UNAVAILABLE)
    except CustifyError as e:
        fail(str(e))
    finally:
        await triggers.stop()
    if not samples:
        fail(f"trigger {trigger_name!r} finds no record in the account to sample", FAILED)
    return samples[0]


@app.command()
def run(
    name: Name,
    config: ConfigOption = None,
    record: Annotated[
        Path | None,
        typer.Option(help="A JSON file: the Custify record (or the trigger's whole envelope)."),
    ] = None,
    sample: Annotated[
        bool, typer.Option(help="Use the trigger's newest record in the account.")
    ] = False,
    execute: Annotated[
        bool,
        typer.Option(help="Really run it (recorded in the history); default: a dry run."),
    ] = False,
) -> None:
    """Run a workflow on one record. By default a dry run: every request it would make is
    printed (API key masked) and nothing is sent."""
    cfg = load_config(config)
    _chosen(cfg, name)
    trigger = _record(cfg, name, record, sample)
    if not execute:
        from csroute.workflows.dry import dry_run

        answer = asyncio.run(dry_run(cfg, name, trigger, config_secrets(cfg)))
        _print_json(answer)
        raise typer.Exit(FAILED if "error" in answer else OK)

    async def go(store: Store) -> WorkflowRun | None:
        workflows = Workflows(cfg, store, secrets=config_secrets(cfg), names=[name])
        try:
            id = await workflows.create(name, f"manual:{uuid.uuid4().hex}", trigger)
            assert id is not None, "a new key creates a run"
            return await workflows.run(id)
        finally:
            await workflows.stop()

    _show_run(with_store(cfg, go))


@app.command()
def history(
    name: Name,
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(help="Show this many runs, newest first.")] = 20,
    run_id: Annotated[
        int | None, typer.Option("--run", help="Show this run's steps, inputs and outputs.")
    ] = None,
) -> None:
    """A workflow's runs, newest first: state, when, how long, the error; or one run's steps."""
    cfg = load_config(config, needs=READS_ONLY)
    _chosen(cfg, name)
    if run_id is not None:
        found = with_store(cfg, lambda store: store.workflow_run(run_id))
        if found is None or found.workflow != name:
            fail(f"workflow {name!r} has no run {run_id}")
        _show_run(found, exit=False)
        return
    runs = with_store(cfg, lambda store: store.workflow_runs(name, limit=limit))
    print_table(
        ("run", "state", "record", "created", "seconds", "error"),
        (
            (r.id, r.state, r.key, r.created_at, f"{r.updated_at - r.created_at:.1f}", r.error)
            for r in runs
        ),
        empty=f"workflow {name!r} has no runs yet",
        instants=("created",),
    )


@app.command()
def retry(
    run_id: Annotated[int, typer.Argument(help="The run's id (see csroute workflows history).")],
    config: ConfigOption = None,
) -> None:
    """Run a failed run again from its failed step (after fixing what its error says); the
    steps that succeeded are not repeated."""
    cfg = load_config(config)

    async def go(store: Store) -> WorkflowRun | str:
        found = await store.workflow_run(run_id)
        if found is None:
            return f"no run {run_id}"
        if found.workflow not in cfg.workflows:
            return f"run {run_id} is of workflow {found.workflow!r}, no longer configured"
        if not await store.retry_run(run_id, time.time()):
            return f"run {run_id} is {found.state}, not failed: there is nothing to retry"
        workflows = Workflows(cfg, store, secrets=config_secrets(cfg), names=[found.workflow])
        try:
            ran = await workflows.run(run_id)
        finally:
            await workflows.stop()
        assert ran is not None
        return ran

    result = with_store(cfg, go)
    if isinstance(result, str):
        fail(result)
    _show_run(result)


def _show_run(run: WorkflowRun | None, *, exit: bool = True) -> None:
    """A run's steps as a table, then its state; exit 1 unless it succeeded (or was skipped)."""
    assert run is not None
    print_table(
        ("#", "step", "state", "tries", "started", "seconds", "output or error"),
        (
            (
                s.index,
                s.name,
                s.state,
                s.attempts,
                s.started_at,
                None if s.finished_at is None else f"{s.finished_at - s.started_at:.2f}",
                s.error or _short(decoded(s.output)),
            )
            for s in run.steps
        ),
        empty="no step ran",
        instants=("started",),
    )
    if run.state == "running":
        out.print(f"run {run.id}: running in another process", highlight=False)
    else:
        error = f": {escape(run.error)}" if run.error else ""
        out.print(f"run {run.id}: {run.state}{error}", highlight=False)
    if exit and run.state not in ("succeeded", "skipped", "running"):
        raise typer.Exit(FAILED)


def _short(value: Any) -> str:
    text = "" if value is None else msgspec.json.encode(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."
