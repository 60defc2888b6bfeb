"""``csroute dlq``: list, show, replay and discard dead letters."""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
import typer

from csroute.cli.common import STORE_ONLY, USAGE, ConfigOption, fail, load_config, out
from csroute.cli.store_access import with_store
from csroute.cli.tables import local_time, print_table
from csroute.ops.deadletters import all_ids, dead_letter_json
from csroute.ops.params import MAX_ID, MAX_PAGE
from csroute.router.redact import config_secrets
from csroute.secrets import Scrubber, scrubber
from csroute.store.base import DeadLetter, Store

app = typer.Typer(help="Dead letters: events given up on, with the reason.", no_args_is_help=True)

Destination = Annotated[str | None, typer.Option(help="Only this destination's dead letters.")]
Ids = Annotated[list[int] | None, typer.Argument(help="Dead-letter ids.", show_default=False)]
All = Annotated[bool, typer.Option("--all", help="Every dead letter (of --destination).")]


@app.command("list")
def list_(
    config: ConfigOption = None,
    destination: Destination = None,
    after_id: Annotated[
        int, typer.Option(help="Start after this id (paging).", min=0, max=MAX_ID)
    ] = 0,
    limit: Annotated[int, typer.Option(help="At most this many.", min=1, max=MAX_PAGE)] = 50,
    json: Annotated[bool, typer.Option("--json", help="JSON Lines output.")] = False,
) -> None:
    """List dead letters, oldest first."""
    cfg = load_config(config, needs=STORE_ONLY)

    async def fetch(store: Store) -> list[DeadLetter]:
        return await store.dead_letters(destination, after_id, limit)

    letters = with_store(cfg, fetch)
    scrub = scrubber(config_secrets(cfg))
    if json:
        for letter in letters:
            out.print(
                msgspec.json.encode(_shown(letter, scrub, with_event=False)).decode(),
                highlight=False,
                soft_wrap=True,
            )
        return
    print_table(
        ("id", "created", "destination", "user", "attempts", "status", "error"),
        (
            (
                d.id,
                d.created_at,
                d.destination,
                d.user_key,
                d.attempts,
                d.status,
                scrub.text(d.error),
            )
            for d in letters
        ),
        empty=f"no dead letters{f' for {destination}' if destination else ''}",
        instants=("created",),
    )


def _shown(letter: DeadLetter, scrub: Scrubber, *, with_event: bool) -> dict[str, object]:
    """The admin API's view of a dead letter, with its time in the user's zone."""
    return dead_letter_json(letter, with_event=with_event, scrub=scrub) | {
        "created_at": local_time(letter.created_at)
    }


@app.command()
def show(id: int, config: ConfigOption = None) -> None:
    """One dead letter: the event, the request (secrets masked), the response, the error."""
    cfg = load_config(config, needs=STORE_ONLY)

    async def fetch(store: Store) -> DeadLetter | None:
        return await store.dead_letter(id)

    letter = with_store(cfg, fetch)
    if letter is None:
        fail(f"no dead letter with id {id}")
    scrub = scrubber(config_secrets(cfg))
    out.print_json(msgspec.json.encode(_shown(letter, scrub, with_event=True)).decode())


async def _selected(
    store: Store, ids: list[int] | None, every: bool, destination: str | None
) -> list[int]:
    return await all_ids(store, destination) if every else list(ids or [])


def _require_selection(ids: list[int] | None, every: bool) -> None:
    if not ids and not every:
        fail("name dead-letter ids, or use --all", USAGE)


@app.command()
def replay(
    ids: Ids = None,
    config: ConfigOption = None,
    destination: Destination = None,
    every: All = False,
) -> None:
    """Send dead letters again (they are re-transformed with the current settings)."""
    _require_selection(ids, every)
    cfg = load_config(config, needs=STORE_ONLY)

    async def go(store: Store) -> int:
        return await store.replay(await _selected(store, ids, every, destination), time.time())

    out.print(f"replayed {with_store(cfg, go)} dead letter(s)")


@app.command()
def discard(
    ids: Ids = None,
    config: ConfigOption = None,
    destination: Destination = None,
    every: All = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete dead letters for good."""
    _require_selection(ids, every)
    cfg = load_config(config, needs=STORE_ONLY)
    what = (
        f"all dead letters{f' of {destination}' if destination else ''}"
        if every
        else (f"{len(ids or [])} dead letter(s)")
    )
    if not yes and not typer.confirm(f"Discard {what}?"):
        raise typer.Exit(1)

    async def go(store: Store) -> int:
        return await store.discard(await _selected(store, ids, every, destination))

    out.print(f"discarded {with_store(cfg, go)} dead letter(s)")
