"""``csroute db migrate``: create or upgrade the store's schema.

Every process also migrates when it opens the store, so this is for operators who want the
upgrade done (and seen) before rolling out new processes. Any number of processes may migrate
at once: PostgreSQL migrations run under an advisory lock, SQLite's under the write lock.
"""

from __future__ import annotations

import asyncio

import typer

from csroute.cli.common import STORE_ONLY, UNAVAILABLE, ConfigOption, fail, load_config, out
from csroute.config import Config
from csroute.store.base import StoreUnavailable
from csroute.store.open import shown_url

app = typer.Typer(help="Manage the store's database.", no_args_is_help=True)


async def _migrate(cfg: Config) -> tuple[int, int]:
    if cfg.store.backend == "postgres":
        from csroute.store.postgres import migrate

        return await migrate(cfg.store.url)
    from csroute.store.sqlite import schema
    from csroute.store.sqlite.store import SQLiteStore

    path = cfg.data_path(cfg.store.path)
    before = 0
    if path.exists():
        conn = schema.connect(path)
        try:
            (before,) = conn.execute("PRAGMA user_version").fetchone()
        finally:
            conn.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    store = await SQLiteStore.open(path, synchronous=cfg.store.synchronous)
    await store.close()
    return int(before), schema.VERSION


@app.command("migrate")
def migrate(config: ConfigOption = None) -> None:
    """Create the schema, or upgrade it to this version of csroute."""
    cfg = load_config(config, needs=STORE_ONLY)
    where = (
        shown_url(cfg.store.url)
        if cfg.store.backend == "postgres"
        else str(cfg.data_path(cfg.store.path))
    )
    try:
        before, after = asyncio.run(_migrate(cfg))
    except (StoreUnavailable, RuntimeError) as e:
        fail(f"{where}: {e}", UNAVAILABLE)
    if before == after:
        out.print(f"{where}: schema is up to date (version {after})", highlight=False)
    else:
        out.print(f"{where}: schema migrated from version {before} to {after}", highlight=False)
