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
from typing import Annotated, Any, BinaryIO, Final

import msgspec
import typer

from csroute.cli.common import FAILED, USAGE, fail
from csroute.destinations.base import Rejection, Request
from csroute.destinations.registry import DESTINATION_TYPES, parse_settings
from csroute.events.model import user_key
from csroute.router.redact import redact, secrets_of
from csroute.router.traits import TraitsMemory

CHUNK_BYTES: Final = 1 << 16
MASKED_HEADER_SETS: Final = 1024
"""Distinct header sets whose masked form is kept (usually one per destination)."""


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


def transform_lines(
    dtype_name: str, settings: Any, lines: BinaryIO, output: BinaryIO, reveal_secrets: bool = False
) -> int:
    """Write one result line per event line; return how many events were refused.

    Bytes in, bytes out, written in chunks: at 100,000 events per run the text layer, the
    per-line writes and re-masking the same headers cost as much as the transform itself
    (docs/benchmarks.md).
    """
    dtype = DESTINATION_TYPES[dtype_name]
    secrets = secrets_of(dtype, settings)
    memory = TraitsMemory({}) if dtype.remembers_traits else None
    masked: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def shown(request: Request) -> dict[str, Any]:
        if reveal_secrets:
            return request.to_json()
        key = tuple(request.headers.items())
        headers = masked.get(key)
        if headers is None:
            headers = redact(request, secrets)["headers"]
            if len(masked) < MASKED_HEADER_SETS:
                masked[key] = headers
        return request.to_json() | {"headers": headers}

    encode = msgspec.json.Encoder().encode_into
    decode = msgspec.json.Decoder().decode
    chunk = bytearray()
    refused = 0
    for number, line in enumerate(lines, 1):
        result: dict[str, Any]
        try:
            event = decode(line)
            if not isinstance(event, dict):
                raise ValueError("an event must be a JSON object")
        except (msgspec.DecodeError, ValueError) as e:
            if not line.strip():
                continue
            result = {"error": f"line {number}: invalid event: {e}", "status": 400}
        else:
            traits = memory.see(user_key(event), event) if memory is not None else {}
            outcome = dtype.transform(event, settings, traits)
            if isinstance(outcome, Rejection):
                result = {"error": outcome.message, "status": outcome.status}
            else:
                result = {"requests": [shown(r) for r in outcome]}
        if "error" in result:
            refused += 1
        encode(result, chunk, len(chunk))
        chunk += b"\n"
        if len(chunk) >= CHUNK_BYTES:
            output.write(chunk)
            chunk.clear()
    output.write(chunk)
    output.flush()
    return refused


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
