"""``csroute triggers``: list the configured Custify triggers, test one against the account,
and reset one's cursor."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import typer

from csroute.cli.common import USAGE, ConfigOption, fail, load_config, out
from csroute.cli.store_access import with_store
from csroute.cli.tables import print_table
from csroute.config import Config
from csroute.store.base import Store, TriggerCursor
from csroute.triggers.catalog import find, output_shape
from csroute.triggers.poller import STARTED
from csroute.triggers.runner import Triggers
from csroute.triggers.settings import is_iso

app = typer.Typer(help="Custify triggers: react to what changes in Custify.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="The trigger's name in the configuration.")]


def _print_json(value: Any) -> None:
    out.print(msgspec.json.format(msgspec.json.encode(value)).decode(), highlight=False)


def _chosen(config: Config, name: str) -> None:
    if name not in config.triggers:
        known = ", ".join(sorted(config.triggers)) or "none configured"
        fail(f"no trigger named {name!r} in the configuration (known: {known})", USAGE)


@app.command("list")
def list_(config: ConfigOption = None) -> None:
    """Every configured trigger: what it watches, how often, where records go, its cursor."""
    cfg = load_config(config)

    async def cursors(store: Store) -> dict[str, dict[str, TriggerCursor]]:
        return {name: await store.trigger_cursors(name) for name in cfg.triggers}

    found = with_store(cfg, cursors)
    rows = []
    for name, t in cfg.triggers.items():
        trigger = find(t.type)
        sends = [f"track from {t.track.source}"] if t.track else []
        sends += ["webhook"] if t.webhook else []
        scopes = {s: c for s, c in found[name].items() if s != STARTED}
        if not scopes:
            cursor = "not started"
        elif len(scopes) == 1:
            cursor = next(iter(scopes.values())).at or "(no records yet)"
        else:
            cursor = f"{len(scopes)} listings"
        rows.append(
            (
                name + ("" if t.enabled else " (disabled)"),
                trigger.title if trigger else t.type,
                f"{t.interval():g} s",
                ", ".join(sends),
                t.push,
                cursor,
            )
        )
    print_table(
        ("name", "trigger", "every", "sends to", "push", "cursor"),
        rows,
        empty="no triggers in the configuration",
    )


@app.command()
def test(name: Name, config: ConfigOption = None) -> None:
    """Up to 5 of the newest records the trigger would hand on, and the exact output shape.

    Reads the Custify account; moves no cursor and sends nothing.
    """
    cfg = load_config(config)
    _chosen(cfg, name)

    async def sample(store: Store) -> list[dict[str, Any]]:
        triggers = Triggers(cfg, store, names=[name])
        try:
            return await triggers.running[name].poller.sample(5)
        finally:
            await triggers.stop()

    samples = with_store(cfg, sample)
    trigger = find(cfg.triggers[name].type)
    assert trigger is not None, "the configuration check refuses unknown triggers"
    _print_json({"trigger": name, "shape": output_shape(trigger), "samples": samples})


@app.command()
def reset(
    name: Name,
    config: ConfigOption = None,
    since: Annotated[
        str | None,
        typer.Option(help="Hand on every record stamped from this ISO-8601 time on."),
    ] = None,
) -> None:
    """Forget the trigger's cursor: its next run is a first run again (from now, or as its
    backfill/since settings say), or, with --since, starts at that time."""
    cfg = load_config(config)
    _chosen(cfg, name)
    if since is not None and not is_iso(since):
        fail("--since: must be an ISO-8601 time such as 2026-01-31T00:00:00Z", USAGE)

    async def go(store: Store) -> int:
        removed = await store.reset_trigger(name)
        if since is not None:
            triggers = Triggers(cfg, store, names=[name])
            try:
                for scope in await triggers.running[name].poller.scopes():
                    await store.save_trigger_cursor(name, scope.key, TriggerCursor(since))
            finally:
                await triggers.stop()
            await store.save_trigger_cursor(name, STARTED, TriggerCursor(since))
        return removed

    removed = with_store(cfg, go)
    start = f"from {since}" if since else "as a first run"
    out.print(f"trigger {name!r}: {removed} cursor(s) removed; the next poll starts {start}")
