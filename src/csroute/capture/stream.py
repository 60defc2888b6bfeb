"""The live capture as server-sent events, for ``GET /admin/stream`` and ``csroute tail``.

A viewer first gets the matching records still in the rings, then a ``: live`` comment (from
then on nothing is missed, short of falling a whole queue behind), then records as they
happen, with a comment every ``KEEPALIVE_S`` so proxies keep an idle stream open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec

from csroute.capture.live import Capture, Filter
from csroute.capture.records import OUTCOMES
from csroute.events.errors import RequestError

KEEPALIVE_S = 15.0
LIVE = b": live\n\n"
BURST = 100
_encode = msgspec.json.Encoder().encode


def parse_filter(params: dict[str, str]) -> Filter:
    """The filter of a request's query parameters (whose names the admin API has checked
    against ``Filter``'s fields); a refusal names the parameter."""
    wants = Filter(**params)
    if wants.outcome and wants.outcome not in OUTCOMES:
        raise RequestError(
            400,
            "outcome",
            "enum",
            f"outcome must be one of {', '.join(OUTCOMES)}, not {wants.outcome!r}",
        )
    return wants


async def sse(capture: Capture, wants: Filter) -> AsyncIterator[bytes]:
    """The stream for one viewer; capturing lasts as long as it is iterated."""
    with capture.watch(wants) as viewer:
        for record in capture.recent(wants):
            yield b"data: %s\n\n" % _encode(record)
        yield LIVE
        while True:
            try:
                record = await asyncio.wait_for(viewer.next(), KEEPALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            # What else is already queued goes in the same write: one send per burst.
            chunk = [b"data: %s\n\n" % _encode(record)]
            while len(chunk) < BURST and not viewer.queue.empty():
                chunk.append(b"data: %s\n\n" % _encode(viewer.queue.get_nowait()))
            yield b"".join(chunk)
