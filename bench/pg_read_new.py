"""PostgreSQL: how long a worker's page read (``Store.read_new``) takes with a large backlog.

    .venv/bin/python bench/pg_read_new.py [--events 1000000] [--pages 40] [--rebuild-index]

Starts a throwaway PostgreSQL server (scripts/postgres.py, fsync on), appends ``--events`` track
events of 1,000 users from one source, analyzes the table, then times pages of 2,000 events
(the default ``delivery.page_size``) read the way a worker of ``n`` partitions reads them: for
``n`` in 1, 8 and 64, ``--pages`` pages spread over the partitions and over the backlog (from
its start, its middle and near its end). Reports the median and 90th percentile per page, and
the events read per millisecond; with ``--rebuild-index``, also how long building the index
``events_source_part`` takes over that backlog (what the schema 3 migration makes appends wait).
Writes JSON to bench/results/pg_read_new.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import psycopg

from common import machine
from csroute.store.postgres import PostgresStore, schema
from postgres import backlog, new_database, postgres

ROOT = Path(__file__).resolve().parent.parent
PAGE = 2000
SPLITS = (1, 8, 64)


async def time_pages(url: str, events: int, pages: int, n: int) -> dict[str, Any]:
    store = await PostgresStore.open(url)
    try:
        starts = [0, events // 2, events - 4 * PAGE * n]
        seconds, read = [], 0
        for i in range(pages):
            partition = (i % n, n)
            after = starts[i % len(starts)]
            began = time.perf_counter()
            page = await store.read_new("d", ["bench"], PAGE, partition, after=after)
            seconds.append(time.perf_counter() - began)
            read += len(page.events)
        ms = sorted(s * 1000 for s in seconds)
        return {
            "partitions": n,
            "pages": pages,
            "events_per_page": read / pages,
            "median_ms": round(statistics.median(ms), 2),
            "p90_ms": round(ms[int(len(ms) * 0.9) - 1], 2),
            "events_per_ms": round(read / sum(ms), 1),
        }
    finally:
        await store.close()


def rebuild_index(url: str) -> float:
    """How long migration 3 holds appends back on this backlog: the time to build the index."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX events_source_part")
        began = time.perf_counter()
        conn.execute(schema.PART_INDEX.encode())
        return round(time.perf_counter() - began, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument(
        "--rebuild-index",
        action="store_true",
        help="then drop events_source_part and time building it again over the backlog",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "events": args.events, "splits": []}
    with postgres() as server:
        url = new_database(server, "bench_read_new")
        asyncio.run(backlog(url, args.events))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE events")
            indexes = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'events' ORDER BY indexname"
            ).fetchall()
        results["indexes"] = [i for (i,) in indexes]
        for n in SPLITS:
            asyncio.run(time_pages(url, args.events, 4, n))  # warm the cache and the plans
            row = asyncio.run(time_pages(url, args.events, args.pages, n))
            print(json.dumps(row), flush=True)
            results["splits"].append(row)
        if args.rebuild_index:
            results["index_build_s"] = rebuild_index(url)
            print(f"building events_source_part: {results['index_build_s']} s", flush=True)
    out = ROOT / "bench" / "results" / "pg_read_new.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"indexes on events: {results['indexes']}")
    print("| partitions | median ms per page | p90 ms | events read per ms |")
    print("|---|---|---|---|")
    for row in results["splits"]:
        cells = [row[k] for k in ("partitions", "median_ms", "p90_ms", "events_per_ms")]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
