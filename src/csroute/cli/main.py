"""``csroute``: serve, inspect and operate the pipeline.

Start-up is fast by construction: this module imports only Typer. Each command's module (and
what it needs: aiohttp, pyarrow, the sandboxes) is imported when that command runs, so
``csroute --help`` and ``csroute status`` load nothing they do not use
(tests/cli/test_startup.py checks it). The help line of each command is written here, where
``--help`` reads it without importing the command; the same test keeps it equal to the
command's own.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer._click.core import Command, Context
from typer.core import TyperCommand, TyperGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("csroute.cli.serve:config_app", "Check the configuration."),
    "custify": ("csroute.cli.custify:app", "Custify operations and the whole Custify API."),
    "db": ("csroute.cli.db:app", "Manage the store's database."),
    "dlq": ("csroute.cli.dlq:app", "Dead letters: events given up on, with the reason."),
    "forget": (
        "csroute.cli.forget:forget",
        "Delete a user: drop their queued events everywhere, delete them where the API can.",
    ),
    "sandbox": ("csroute.cli.sandbox:app", "Run a local sandbox of a destination's API."),
    "send": (
        "csroute.cli.send:send",
        "Send events through /v1/batch; with no FILE, a sample identify, group and track.",
    ),
    "serve": (
        "csroute.cli.serve:serve",
        "Start the pipeline (with no configuration file: the demo, on embedded defaults).",
    ),
    "status": (
        "csroute.cli.status:status",
        "Per destination: delivered, sent, backlog, retrying, held, dead, filtered, rejected, why.",
    ),
    "sync": (
        "csroute.cli.sync:app",
        "Bulk sync of records from CSV, JSON Lines, JSON or Parquet files to Custify.",
    ),
    "tail": (
        "csroute.cli.tail:tail",
        "Stream the live capture: every event received, and what each destination did with it.",
    ),
    "triggers": (
        "csroute.cli.triggers:app",
        "Custify triggers: react to what changes in Custify.",
    ),
    "workflows": (
        "csroute.cli.workflows:app",
        "Workflows: a trigger, conditions and steps, run durably.",
    ),
    "transform": (
        "csroute.cli.transform:transform",
        "Transform events for a destination without sending anything.",
    ),
}
"""Command name -> (where it is defined, its help line)."""


def load_command(name: str) -> Command:
    """The real Click command behind ``name``, importing its module."""
    where, _ = COMMANDS[name]
    module, attr = where.split(":")
    target: Any = getattr(importlib.import_module(module), attr)
    if isinstance(target, typer.Typer):
        command: Command = typer.main.get_group(target)  # a group even of one: `db migrate`
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _Deferred(TyperCommand):
    """Stands for a command in the listing; parsing and running go to the real one."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        return load_command(self.name or "").make_context(info_name, args, parent, **extra)


class _Commands(TyperGroup):
    def list_commands(self, ctx: Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in COMMANDS:
            return None
        return _Deferred(cmd_name, help=COMMANDS[cmd_name][1])


app = typer.Typer(
    name="csroute",
    cls=_Commands,
    help="Customer-event pipeline: Segment/RudderStack in, Custify, Kustomer and webhooks out."
    " Exit codes: 0 done, 1 some of the work failed, 2 wrong usage or configuration,"
    " 3 something needed is unavailable (docs/cli.md).",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """The group itself does nothing; its commands, listed in COMMANDS, do."""
