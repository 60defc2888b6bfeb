"""The router's exact transform, offline: events in, the requests the router would send out,
as JSON Lines. ``csroute transform`` and the console's transform preview both run it, so what
they show is what the router does (identify traits remembered across lines included).
"""

from __future__ import annotations

from typing import Any, BinaryIO, Final

import msgspec

from csroute.destinations.base import Rejection, Request
from csroute.destinations.registry import DESTINATION_TYPES
from csroute.events.model import user_key
from csroute.router.redact import redact, secrets_of
from csroute.router.traits import TraitsMemory

CHUNK_BYTES: Final = 1 << 16
MASKED_HEADER_SETS: Final = 1024
"""Distinct header sets whose masked form is kept (usually one per destination)."""


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
