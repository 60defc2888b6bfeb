"""What the CLI commands share: loading the configuration, reporting errors, exit codes.

Exit codes, the same for every command (docs/cli.md):

- 0 ``OK``: done, and everything it did succeeded.
- 1 ``FAILED``: it ran, but some of the work failed (a rejected event, a failed row, an error
  answer from an API, a dead letter that does not exist).
- 2 ``USAGE``: the command line or the configuration is wrong; nothing was done.
- 3 ``UNAVAILABLE``: something it needs is not there: the store, an API that does not answer,
  a port already in use.
- 130 ``INTERRUPTED``: stopped with Ctrl-C.

This module is imported by every command, so it imports nothing heavy (start-up time).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Final, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from csroute import config as config_module
from csroute import files
from csroute.config import Config, ConfigError

OK: Final = 0
FAILED: Final = 1
USAGE: Final = 2
UNAVAILABLE: Final = 3
INTERRUPTED: Final = 130

# Piped output gets a wide console so tables are not truncated for scripts and logs.
err = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 200)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file (default: $CSROUTE_CONFIG, else ./csroute.yaml, else the demo).",
        show_default=False,
    ),
]


def fail(message: str, code: int = FAILED) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``. The message is escaped:
    API texts and key paths such as ``jobs[0]`` must not be read as rich markup."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def config_path(given: Path | None) -> Path | None:
    """The file to use; None means the built-in demo configuration."""
    if given is not None:
        return given
    if env := os.environ.get("CSROUTE_CONFIG"):
        return Path(env)
    default = Path("csroute.yaml")
    return default if default.exists() else None


STORE_ONLY: Final[tuple[str, ...]] = ()
"""``needs`` of the commands that use only the store (status, dlq, db)."""
CUSTIFY_ONLY: Final = ("custify_connections", "syncs")
"""``needs`` of the commands that use only the Custify connections (custify, sync)."""


def load_config(given: Path | None, *, needs: Collection[str] | None = None) -> Config:
    """The configuration, or exit 2 listing every problem in it.

    ``needs``: the top-level keys the command uses, besides the store's (None: all of them).
    An unset ``${VAR}`` elsewhere is then no problem: a command runs without the secrets it
    does not use.
    """
    from csroute.demo import demo_config

    path = config_path(given)
    try:
        config = config_module.load(path, needs=needs) if path is not None else demo_config()
    except ConfigError as e:
        where = f"{path}" if path is not None else "the demo configuration"
        count = f"{len(e.problems)} problem{'s' if len(e.problems) != 1 else ''}"
        err.print(f"[red]error:[/red] {escape(where)}: {count}", highlight=False, soft_wrap=True)
        for problem in e.problems:
            err.print(f"  - {escape(problem)}", highlight=False, soft_wrap=True)
        raise typer.Exit(USAGE) from None
    files.use(config.store.file_mode)  # before any command creates a file
    return config
