"""What the CLI commands share: loading the configuration and reporting errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from csroute import config as config_module
from csroute import files
from csroute.config import Config, ConfigError

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


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def config_path(given: Path | None) -> Path | None:
    """The file to use; None means the built-in demo configuration."""
    if given is not None:
        return given
    if env := os.environ.get("CSROUTE_CONFIG"):
        return Path(env)
    default = Path("csroute.yaml")
    return default if default.exists() else None


def load_config(given: Path | None) -> Config:
    from csroute.demo import demo_config

    path = config_path(given)
    try:
        config = config_module.load(path) if path is not None else demo_config()
    except ConfigError as e:
        fail(str(e), 2)
    files.use(config.store.file_mode)  # before any command creates a file
    return config
