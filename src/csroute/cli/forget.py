"""``csroute forget`` and ``csroute custify forget``: delete a user, stop their queued events."""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
import typer

from csroute.cli.common import USAGE, ConfigOption, err, fail, load_config, out

UserId = Annotated[str, typer.Option("--user-id", help="The user to delete.")]
Destinations = Annotated[
    list[str] | None,
    typer.Option("--destination", help="Only this destination (repeatable; default: all)."),
]


def run_forget(
    user_id: str, config: ConfigOption, destinations: list[str] | None, types: tuple[str, ...]
) -> None:
    cfg = load_config(config, needs=("destinations",))
    known = {d.name for d in cfg.destinations}
    for name in destinations or []:
        if name not in known:
            fail(f"--destination: no destination named {name!r}", USAGE)
    from csroute.ops.forget import Forgotten, forget_user
    from csroute.store.open import open_store

    async def go() -> list[Forgotten]:
        store = await open_store(cfg.store, cfg.data_dir)
        try:
            return await forget_user(cfg, store, user_id, destinations or (), types)
        finally:
            await store.close()

    results = asyncio.run(go())
    if not results:
        fail("no matching destination to forget the user in")
    for r in results:
        out.print(msgspec.json.encode(r).decode(), highlight=False, soft_wrap=True)
        if r.note is not None:
            err.print(f"{r.destination}: not deleted: {r.note}", highlight=False, soft_wrap=True)
    if any(r.error for r in results):
        raise typer.Exit(1)


def forget(user_id: UserId, config: ConfigOption = None, destination: Destinations = None) -> None:
    """Delete a user: drop their queued events everywhere, delete them where the API can."""
    run_forget(user_id, config, destination, ())
