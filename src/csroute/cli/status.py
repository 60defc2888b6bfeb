"""``csroute status``: where each destination stands, read from the store."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import typer

from csroute.cli.common import STORE_ONLY, ConfigOption, load_config, out
from csroute.cli.store_access import with_store
from csroute.cli.tables import print_table
from csroute.store.base import Store

COLUMNS = ("delivered", "sent", "backlog", "retrying", "held", "dead", "filtered", "rejected")


def status(
    config: ConfigOption = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per destination: delivered, sent, backlog, retrying, held, dead, filtered, rejected, why.

    ``sent``: accepted in a batch whose per-job outcome is not yet read (Custify)."""
    cfg = load_config(config, needs=STORE_ONLY)

    async def collect(store: Store) -> dict[str, dict[str, Any]]:
        report = {}
        for d in cfg.destinations:
            stats = await store.stats(d.name, cfg.sources_of(d.name))
            report[d.name] = {
                "type": d.type,
                "enabled": d.enabled,
                **{c: getattr(stats, c) for c in COLUMNS},
                "unverified": stats.unverified,
                "filtered_by_reason": dict(stats.filtered_by_reason),
                "rejected_by_reason": dict(stats.rejected_by_reason),
                "retrying_by_error": dict(stats.retrying_by_error),
                "dead_by_error": dict(stats.dead_by_error),
            }
        return report

    report = with_store(cfg, collect)
    if json:
        out.print_json(msgspec.json.encode(report).decode())
        return
    print_table(
        ("destination", "type", *COLUMNS, "why"),
        (
            (
                name if row["enabled"] else f"{name} (disabled)",
                row["type"],
                *map(row.get, COLUMNS),
                why(row),
            )
            for name, row in report.items()
        ),
        empty="no destinations configured",
    )


SHOWN_REASONS = 3
"""Reasons per kind in the table; ``--json`` has them all."""


def why(row: dict[str, Any]) -> str:
    """The most common reasons events are retrying or dead, one a line: what an operator
    needs to act on, beside the counts."""
    lines = []
    for kind in ("retrying", "dead"):
        reasons = list(row[f"{kind}_by_error"].items())
        lines += [f"{kind}: {error} ({n})" for error, n in reasons[:SHOWN_REASONS]]
        if len(reasons) > SHOWN_REASONS:
            lines.append(f"{kind}: {len(reasons) - SHOWN_REASONS} more reasons (--json)")
    return "\n".join(lines)
