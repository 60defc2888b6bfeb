"""Running ``csroute serve`` as a real subprocess, as users run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.servers import free_port

CSROUTE = [sys.executable, "-m", "csroute"]


class CsrouteProcess:
    """A ``csroute serve`` process with a config written to ``workdir``; restartable."""

    def __init__(
        self, workdir: Path, config: dict[str, Any], role: str = "all", args: tuple[str, ...] = ()
    ) -> None:
        self.workdir = workdir
        self.port = config.setdefault("server", {}).setdefault("port", free_port())
        config["server"].setdefault("host", "127.0.0.1")
        config.setdefault("data_dir", str(workdir / "data"))
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "csroute.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.role = role
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "csroute.log"

    def start(self) -> CsrouteProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *CSROUTE,
                    "serve",
                    "--config",
                    str(self.config_path),
                    "--role",
                    self.role,
                    *self.args,
                ],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"csroute exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"csroute did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def app_to_custify(write_key: str, api_key: str, sandbox: str, **more: Any) -> dict[str, Any]:
    """A config with one source, ``app``, delivering to one Custify destination, ``custify``."""
    return {
        "sources": [{"name": "app", "write_key": write_key}],
        "destinations": [
            {
                "name": "custify",
                "type": "custify",
                "settings": {"api_key": api_key, "base_url": sandbox},
            }
        ],
        "connections": [{"source": "app", "destinations": ["custify"]}],
        **more,
    }
