"""``csroute send``: send sample or given events to a running csroute, like an SDK would."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from csroute.cli.common import FAILED, UNAVAILABLE, USAGE, ConfigOption, fail, load_config, out
from csroute.network import failure_message


def sample_events(user_id: str) -> list[dict[str, Any]]:
    """An identify, a group and a track for one user: enough to see every destination work."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    email = f"{user_id}@example.com"
    return [
        {
            "type": "identify",
            "userId": user_id,
            "timestamp": now,
            "traits": {"email": email, "name": "Ada Lovelace", "plan": "pro"},
        },
        {
            "type": "group",
            "userId": user_id,
            "groupId": "acme",
            "timestamp": now,
            "traits": {"name": "Acme Inc", "employees": 42},
        },
        {
            "type": "track",
            "userId": user_id,
            "event": "Signed Up",
            "timestamp": now,
            "properties": {"plan": "pro", "seats": 3},
        },
    ]


def send(
    file: Annotated[Path | None, typer.Argument(help="JSON Lines events; '-' for stdin.")] = None,
    config: ConfigOption = None,
    url: Annotated[str | None, typer.Option(help="csroute's URL (default: from config).")] = None,
    write_key: Annotated[
        str | None, typer.Option(help="Source write key (default: the first source's).")
    ] = None,
    user_id: Annotated[str | None, typer.Option(help="User id for the sample events.")] = None,
) -> None:
    """Send events through /v1/batch; with no FILE, a sample identify, group and track."""
    cfg = load_config(config, needs=("server", "sources"))
    base = url or f"http://{cfg.server.host}:{cfg.server.port}"
    key = write_key or (cfg.sources[0].write_key if cfg.sources else None)
    if not key:
        fail("no write key: pass --write-key or configure a source", USAGE)
    events = (
        sample_events(user_id or f"user-{uuid.uuid4().hex[:8]}")
        if file is None
        else _read_events(file)
    )
    import httpx

    target = f"{base}/v1/batch"
    try:
        response = httpx.post(target, json={"batch": events}, auth=(key, ""))
    except httpx.HTTPError as e:
        fail(
            f"{failure_message('POST', target, e, 1)}. Is `csroute serve` running there?",
            UNAVAILABLE,
        )
    out.print(f"HTTP {response.status_code}: {response.text}", highlight=False, soft_wrap=True)
    if response.status_code != 200:
        raise typer.Exit(FAILED)


def _read_events(file: Path) -> list[Any]:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
    except OSError as e:
        fail(f"{file}: cannot read ({e.strerror})", USAGE)
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                events.append(msgspec.json.decode(line))
            except msgspec.DecodeError as e:
                fail(f"{file}: line {number} is not a JSON event ({e})", USAGE)
    return events
