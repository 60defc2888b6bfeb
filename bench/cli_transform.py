"""``csroute transform`` of a JSON Lines file, whole process on one core (start-up included).

    .venv/bin/python bench/cli_transform.py [--events 100000] [--rounds 3] [--profile]

The events are bench/custify_transform.py's mixed stream (30% identify, 60% track, 10% group
over 5,000 users, SDK-shaped context) written as one JSON object per line. Each round runs
``taskset -c 0 csroute transform --destination custify`` on the file with its output to
/dev/null and reports events/s for the whole process; the best round is printed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from custify_transform import stream

SETTINGS = '{"api_key": "bench-key-0123456789"}'


def command(path: Path) -> list[str]:
    csroute = [sys.executable, "-m", "csroute", "transform", "--destination", "custify"]
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    return [*pin, *csroute, "--settings", SETTINGS, str(path)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the process instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        encode = msgspec.json.encode
        path.write_bytes(b"".join(encode(e) + b"\n" for e in stream(args.events)))
        if args.profile:
            cmd = command(path)
            at = cmd.index("-m")
            cmd[at:at] = ["-m", "cProfile", "-s", "tottime"]
            profile = subprocess.run(cmd, capture_output=True, text=True, check=True)
            print("\n".join(profile.stdout.splitlines()[-args.events - 40 :][:40]))
            return
        best = 0.0
        for _ in range(args.rounds):
            started = time.perf_counter()
            subprocess.run(command(path), stdout=subprocess.DEVNULL, check=True)
            best = max(best, args.events / (time.perf_counter() - started))
    print(f"csroute transform, whole process on one core: {best:,.0f} events/s")


if __name__ == "__main__":
    main()
