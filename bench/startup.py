"""How long the ``csroute`` command takes to start: ``--help`` and ``status``, whole process.

    .venv/bin/python bench/startup.py [--rounds 10]

Runs the installed ``csroute`` entry point (what a user types) pinned to one core, after one
warm-up run so the operating system's file cache is warm, as on a second command. ``status``
reads an empty SQLite store made by ``csroute db migrate`` in a temporary directory. Prints
the best and median wall time of each, and the median CPU time (user + system) of the process,
which other load on the machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], rounds: int) -> tuple[float, float, float]:
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    times, cpu = [], []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return min(times), statistics.median(times), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    csroute = str(Path(sys.executable).with_name("csroute"))
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "csroute.yaml"
        config.write_text("destinations: [{name: cs, type: custify, settings: {api_key: k}}]\n")
        subprocess.run(
            [csroute, "db", "migrate", "-c", str(config)], check=True, stdout=subprocess.DEVNULL
        )
        for name, cmd in (
            ("csroute --help", [*pin, csroute, "--help"]),
            ("csroute status", [*pin, csroute, "status", "-c", str(config)]),
        ):
            best, median, cpu = timed(cmd, args.rounds)
            print(
                f"{name:<16} best {best * 1000:5.0f} ms   median {median * 1000:5.0f} ms"
                f"   CPU {cpu * 1000:5.0f} ms"
            )


if __name__ == "__main__":
    main()
