"""Jobs that tests run in the SQLite store's writer process (``store._writer.run``).

They travel pickled, by name, so they live in a module the writer process can import.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any


def hold_until_exists(conn: sqlite3.Connection, held: Path, gate: Path) -> None:
    """Create ``held``, then keep the writer busy until ``gate`` exists (a test creates it to
    let the writer go)."""
    held.touch()
    while not gate.exists():
        time.sleep(0.001)


def limit_pages(conn: sqlite3.Connection, pages: int | None) -> None:
    """Let the database grow to ``pages`` pages (None: no bigger than it is now)."""
    if pages is None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def durability(conn: sqlite3.Connection) -> tuple[Any, Any]:
    """The writer connection's journal mode and synchronous level."""
    return (
        conn.execute("PRAGMA journal_mode").fetchone()[0],
        conn.execute("PRAGMA synchronous").fetchone()[0],
    )
