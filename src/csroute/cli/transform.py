"""``csroute transform``: the router's exact transform, offline, as JSON Lines.

Contract (other tools depend on it): one output line per input line, either
``{"requests": [{"method", "url", "headers", "params", "body"}, ...]}`` in delivery order, or
``{"error": "<message>", "status": <int>}``. Like the router, identify traits are remembered
across lines for destinations that carry them over. Credentials are masked unless
``--show-secrets`` asks for the exact requests. Exit 1 when any event was refused (every line
is still answered), 2 for bad options.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from csroute.cli.common import FAILED, USAGE, fail
from csroute.destinations.registry import DESTINATION_TYPES, parse_settings
from csroute.router.preview import transform_lines


def _read_settings(value: str) -> dict[str, Any]:
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as e:
            fail(f"--settings: cannot read {value[1:]} ({e.strerror})", USAGE)
    try:
        settings = msgspec.json.decode(text)
    except msgspec.DecodeError as e:
        fail(f"--settings: not valid JSON ({e})", USAGE)
    if not isinstance(settings, dict):
        fail("--settings: must be a JSON object", USAGE)
    return settings


def transform(
    destination: Annotated[str, typer.Option(help="Destination type, e.g. custify.")],
    settings: Annotated[str, typer.Option(help="Settings as JSON, or @FILE.")],
    file: Annotated[Path | None, typer.Argument(help="JSON Lines events (default: stdin).")] = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print credentials unmasked (exact requests).")
    ] = False,
) -> None:
    """Transform events for a destination without sending anything."""
    if destination not in DESTINATION_TYPES:
        fail(
            f"--destination: unknown type {destination!r} "
            f"(known: {', '.join(sorted(DESTINATION_TYPES))})",
            USAGE,
        )
    parsed, problems = parse_settings(destination, _read_settings(settings))
    if problems:
        fail("--settings: " + "; ".join(problems), USAGE)
    sys.stdout.flush()
    # Decoded events are plain dicts without cycles: the collector's passes over the growing
    # traits memory find nothing to free and cost about a tenth of the run.
    gc.freeze()
    gc.disable()
    if file is None:
        refused = transform_lines(
            destination, parsed, sys.stdin.buffer, sys.stdout.buffer, show_secrets
        )
    else:
        try:
            with file.open("rb") as lines:
                refused = transform_lines(
                    destination, parsed, lines, sys.stdout.buffer, show_secrets
                )
        except OSError as e:
            fail(f"{file}: cannot read ({e.strerror})", USAGE)
    if refused:
        raise typer.Exit(FAILED)
