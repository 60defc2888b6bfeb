"""``csroute send``: send sample or given events to a running csroute, like an SDK would."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import msgspec
import typer

from csroute.cli.common import ConfigOption, fail, load_config, out


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
    cfg = load_config(config)
    base = url or f"http://{cfg.server.host}:{cfg.server.port}"
    key = write_key or (cfg.sources[0].write_key if cfg.sources else None)
    if not key:
        fail("no write key: pass --write-key or configure a source")
    if file is None:
        events = sample_events(user_id or f"user-{uuid.uuid4().hex[:8]}")
    else:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
        events = [msgspec.json.decode(line) for line in text.splitlines() if line.strip()]
    try:
        response = httpx.post(f"{base}/v1/batch", json={"batch": events}, auth=(key, ""))
    except httpx.HTTPError as e:
        fail(f"cannot reach csroute at {base}: {e}")
    out.print(f"HTTP {response.status_code}: {response.text}", highlight=False, soft_wrap=True)
    if response.status_code != 200:
        raise typer.Exit(1)
