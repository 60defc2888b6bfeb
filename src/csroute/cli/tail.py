"""``csroute tail``: a running csroute's live capture, in the terminal.

It reads ``/admin/stream`` (server-sent events) with the configured admin token, so it works
from anywhere the admin API is reachable; everything it prints was masked by the server.
"""

from __future__ import annotations

import json as jsonlib
from datetime import datetime
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape

from csroute.cli.common import (
    INTERRUPTED,
    OK,
    UNAVAILABLE,
    USAGE,
    ConfigOption,
    fail,
    load_config,
    out,
)

STYLES = {
    "received": "cyan",
    "delivered": "green",
    "retrying": "yellow",
    "rejected": "magenta",
    "filtered": "dim",
    "dead-lettered": "red",
}
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def tail(
    config: ConfigOption = None,
    source: Annotated[str, typer.Option(help="Only events of this source.")] = "",
    destination: Annotated[str, typer.Option(help="Only deliveries to this destination.")] = "",
    user: Annotated[
        str, typer.Option(help="Only this user's events (userId or anonymousId).")
    ] = "",
    type: Annotated[
        str, typer.Option("--type", help="Only events of this type (track, identify...).")
    ] = "",
    event: Annotated[
        str, typer.Option(help="Only events of this name (track event, page name).")
    ] = "",
    outcome: Annotated[
        str,
        typer.Option(
            help="Only this outcome: received, delivered, sent, retrying, rejected, filtered or"
            " dead-lettered."
        ),
    ] = "",
    url: Annotated[
        str, typer.Option(help="csroute's address (default: server.host and server.port).")
    ] = "",
    count: Annotated[int, typer.Option(help="Stop after this many records (0: never).")] = 0,
    json: Annotated[bool, typer.Option("--json", help="JSON Lines: each record whole.")] = False,
) -> None:
    """Stream the live capture: every event received, and what each destination did with it."""
    cfg = load_config(config, needs=("server", "admin"))
    if not cfg.admin.token:
        fail("the admin API is off: set admin.token in the configuration", USAGE)
    host = cfg.server.host
    base = (
        url.rstrip("/")
        or f"http://{'127.0.0.1' if host in _ANY_ADDRESS else host}:{cfg.server.port}"
    )
    wanted = {"source": source, "destination": destination, "user": user, "type": type}
    wanted |= {"event": event, "outcome": outcome}
    params = {k: v for k, v in wanted.items() if v}
    headers = {"authorization": f"Bearer {cfg.admin.token}"}
    shown = 0
    try:
        with httpx.stream(
            "GET",
            f"{base}/admin/stream",
            params=params,
            headers=headers,
            timeout=httpx.Timeout(10.0, read=None),
        ) as response:
            if response.status_code != 200:
                response.read()
                fail(f"{base}: {response.json().get('error', response.text)}", USAGE)
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                record = jsonlib.loads(line[6:])
                if json:
                    out.print(jsonlib.dumps(record), highlight=False, soft_wrap=True)
                else:
                    out.print(describe(record), highlight=False, soft_wrap=True)
                shown += 1
                if count and shown >= count:
                    raise typer.Exit(OK)
    except httpx.HTTPError as e:
        fail(f"cannot read the live stream from {base}: {e}", UNAVAILABLE)
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None


def describe(record: dict[str, Any]) -> str:
    """One line of rich markup for a record."""
    at = datetime.fromtimestamp(record["at"]).astimezone().strftime("%H:%M:%S.%f")[:-3]
    if record["kind"] == "dropped":
        return f"{at} [bold red]missed {record['count']} records[/] (this terminal fell behind)"
    outcome = record["outcome"]
    style = STYLES.get(outcome, "")
    where = escape(record["source"])
    if record["kind"] == "delivery":
        where += f" → {escape(record['destination'])}"
    what = escape(record["type"]) + (f" {escape(repr(record['event']))}" if record["event"] else "")
    parts = [at, f"[{style}]{outcome:<13}[/]", where, what, f"user {escape(record['user'])}"]
    if record.get("attempt"):
        parts.append(f"attempt {record['attempt']}")
    if record.get("status") is not None:
        parts.append(f"HTTP {record['status']}")
    if record.get("latency_ms") is not None:
        parts.append(f"{record['latency_ms']:g} ms")
    if record.get("reason"):
        parts.append(f"— {escape(record['reason'])}")
    if record.get("skipped_before"):
        parts.append(f"[dim]({record['skipped_before']} skipped before)[/]")
    return "  ".join(parts)
