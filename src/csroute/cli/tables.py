"""The one way the CLI prints a table.

Cells are text a person reads: nothing is shown as Python's ``None`` (an empty cell is
empty), instants are ISO-8601 in the user's time zone (``$TZ`` or the system's), and an empty
result says so in words instead of drawing an empty frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.markup import escape
from rich.table import Table

from csroute.cli.common import out


def local_time(epoch_s: float) -> str:
    """An instant (seconds since the epoch) as ISO-8601 in the user's time zone."""
    return datetime.fromtimestamp(epoch_s).astimezone().isoformat(timespec="seconds")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone().isoformat(timespec="seconds")
    return escape(str(value))


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str,
    instants: Sequence[str] = (),
) -> None:
    """Print ``rows`` under ``columns``, or the sentence ``empty`` when there are none.

    Columns named in ``instants`` hold seconds since the epoch and are shown as local times.
    """
    table = Table(*columns)
    dated = {columns.index(c) for c in instants}
    for row in rows:
        table.add_row(
            *(local_time(v) if i in dated and v is not None else cell(v) for i, v in enumerate(row))
        )
    if table.row_count == 0:
        out.print(empty, highlight=False)
    else:
        out.print(table)
