"""Bulk sync under Custify's rate limit: a CSV of people through ``csroute sync`` in batch mode.

    .venv/bin/python bench/sync.py [--rows 100000] [--batch-size 100] [--out sync]

The Custify sandbox runs as its own process with Custify's default limit (100 requests per 10 s
per API key); ``csroute sync people.csv --template "Send Batch Request"`` runs as another, so
its memory is its own. The ceiling is limit x batch size = 1,000 records/s. Measured:

- records/s while sending: rows over the time between the first and the last request of the
  response log (the pre-flight pass before it is reported separately, as ``preflight_s``);
- records/s end to end: rows over the command's wall time, pre-flight included;
- peak RSS of the sync process (``VmHWM`` of /proc/<pid>/status, sampled every 0.2 s);
- requests answered 429, and that every row landed (people in the sandbox = rows).

Prints the results and writes JSON to bench/results/<--out>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from common import custify_sandbox, machine

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
API_KEY = "bench-sync-key"
LIMIT, WINDOW_S = 100, 10.0


def write_people(path: Path, rows: int) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["user_id", "email", "name", "signed_up_at", "plan", "seats", "vip"])
        for i in range(rows):
            writer.writerow(
                [f"u{i}", f"user{i}@example.com", f"User {i}", "2024-05-30 12:00", "pro",
                 i % 50, "true" if i % 7 == 0 else "false"]
            )  # fmt: skip


def rss_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def sending_window(log: Path) -> tuple[float, int]:
    """Seconds between the first and the last request of the response log, and its requests."""
    first = last = None
    count = 0
    with log.open() as lines:
        for line in lines:
            at = datetime.fromisoformat(json.loads(line)["at"]).timestamp()
            first = at if first is None else first
            last = at
            count += 1
    assert first is not None and last is not None
    return last - first, count


def run(rows: int, batch_size: int) -> dict[str, Any]:
    ceiling = LIMIT / WINDOW_S * batch_size
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        people = workdir / "people.csv"
        write_people(people, rows)
        with custify_sandbox(API_KEY, f"{LIMIT}/{WINDOW_S:g}") as sandbox:
            env = {**os.environ, "CSROUTE_CUSTIFY_API_KEY": API_KEY,
                   "CSROUTE_CUSTIFY_BASE_URL": sandbox}  # fmt: skip
            env.pop("CSROUTE_CUSTIFY_CONNECTION", None)
            command = [PYTHON, "-m", "csroute", "sync", str(people), "--template",
                       "Send Batch Request", "--batch-size", str(batch_size)]  # fmt: skip
            started = time.monotonic()
            sync = subprocess.Popen(
                command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            peak = 0
            while sync.poll() is None:
                peak = max(peak, rss_kib(sync.pid, "VmHWM") or 0)
                time.sleep(0.2)
            wall_s = time.monotonic() - started
            output = sync.communicate()
            if sync.returncode != 0:
                raise RuntimeError(f"csroute sync failed: {output[1].decode()[-2000:]}")
            window_s, requests = sending_window(Path(f"{people}.responses.jsonl"))
            state = httpx.get(f"{sandbox}/__sandbox/state?summary=true").json()
    # The window spans requests 1..n, that is n - 1 intervals carrying the records of n - 1.
    sending_rate = (rows - batch_size) / window_s if requests > 1 else float("nan")
    return {
        "rows": rows,
        "batch_size": batch_size,
        "ceiling_records_per_s": ceiling,
        "records_per_s_sending": round(sending_rate),
        "fraction_of_ceiling": round(sending_rate / ceiling, 3),
        "records_per_s_end_to_end": round(rows / wall_s),
        "wall_s": round(wall_s, 1),
        "preflight_and_startup_s": round(wall_s - window_s, 1),
        "requests": requests,
        "requests_429": state["requests"].get("429", 0),
        "people_landed": state["counts"]["people"],
        "peak_rss_mib": round(peak / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--out", default="sync")
    args = parser.parse_args()
    results = {"machine": machine(), "run": run(args.rows, args.batch_size)}
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{args.out}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
