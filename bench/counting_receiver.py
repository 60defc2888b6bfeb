"""A webhook receiver that only counts events: the fastest endpoint we can deliver to.

Run as ``python bench/counting_receiver.py PORT``; ``GET /count`` returns the events seen.
"""

from __future__ import annotations

import sys
from typing import Any

from common import read_body, serve

count = 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global count
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    if scope["method"] == "GET":
        reply = str(count).encode()
    else:
        # A batch is a JSON array of events: count its top-level objects cheaply.
        count += body.count(b'"messageId"') if body[:1] == b"[" else 1
        reply = b"{}"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(reply)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": reply})


if __name__ == "__main__":
    serve(app, int(sys.argv[1]))
