"""``csroute transform``: the router's exact transform, offline, as JSON Lines.

Contract (other tools depend on it): one output line per input line, either
``{"requests": [{"method", "url", "headers", "params", "body"}, ...]}`` in delivery order, or
``{"error": "<message>", "status": <int>}``. Like the router, identify traits are remembered
across lines for destinations that carry them over. Credentials are masked unless
``--show-secrets`` asks for the exact requests.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import msgspec
import typer

from csroute.cli.common import fail
from csroute.destinations.base import Rejection
from csroute.destinations.registry import DESTINATION_TYPES, parse_settings
from csroute.events.model import user_key
from csroute.router.redact import redact, secrets_of
from csroute.router.traits import TraitsMemory


def _read_settings(value: str) -> dict[str, Any]:
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as e:
            fail(f"--settings: cannot read {value[1:]} ({e.strerror})", 2)
    try:
        settings = msgspec.json.decode(text)
    except msgspec.DecodeError as e:
        fail(f"--settings: not valid JSON ({e})", 2)
    if not isinstance(settings, dict):
        fail("--settings: must be a JSON object", 2)
    return settings


def transform_lines(
    dtype_name: str, settings: Any, lines: TextIO, output: TextIO, reveal_secrets: bool = False
) -> None:
    dtype = DESTINATION_TYPES[dtype_name]
    secrets = secrets_of(dtype, settings)
    memory = TraitsMemory({}) if dtype.remembers_traits else None
    encode = msgspec.json.Encoder().encode
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        result: dict[str, Any]
        try:
            event = msgspec.json.decode(line)
            if not isinstance(event, dict):
                raise ValueError("an event must be a JSON object")
        except (msgspec.DecodeError, ValueError) as e:
            result = {"error": f"line {number}: invalid event: {e}", "status": 400}
        else:
            traits = memory.see(user_key(event), event) if memory is not None else {}
            outcome = dtype.transform(event, settings, traits)
            if isinstance(outcome, Rejection):
                result = {"error": outcome.message, "status": outcome.status}
            else:
                shown = (r.to_json() if reveal_secrets else redact(r, secrets) for r in outcome)
                result = {"requests": list(shown)}
        output.write(encode(result).decode())
        output.write("\n")


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
            2,
        )
    parsed, problems = parse_settings(destination, _read_settings(settings))
    if problems:
        fail("--settings: " + "; ".join(problems), 2)
    if file is None:
        transform_lines(destination, parsed, sys.stdin, sys.stdout, show_secrets)
        return
    try:
        with file.open() as lines:
            transform_lines(destination, parsed, lines, sys.stdout, show_secrets)
    except OSError as e:
        fail(f"{file}: cannot read ({e.strerror})", 2)
