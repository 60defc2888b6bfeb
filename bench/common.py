"""What the benchmark scripts share: ports, waiting for servers, the machine, memory."""

from __future__ import annotations

import base64
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 30) -> None:
    """Return once ``url`` answers anything; raise if it has not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def machine() -> dict[str, Any]:
    """The machine a figure was measured on, load included (a shared machine skews figures)."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def rss_mb(pid: int) -> float:
    """Resident memory of a process and of its children (the SQLite writer), in MiB; 0 once
    it has gone. Pages they share are counted once per process: the figure errs high."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = next(
        (int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")),
        0.0,
    )
    return own + sum(rss_mb(int(child)) for child in children)


def ensure_wrk() -> None:
    """Install ``wrk`` (Debian's package) when it is missing."""
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)


def wrk_post_script(directory: Path, path: str, body: bytes, write_key: str) -> Path:
    """A ``wrk`` Lua script that POSTs ``body`` to ``path`` as JSON, with the write key as
    Basic auth (both files named by the body's size, so several can share ``directory``)."""
    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    body_file = directory / f"body{len(body)}.json"
    body_file.write_bytes(body)
    script = directory / f"post{len(body)}.lua"
    script.write_text(
        f"""
local f = io.open("{body_file}", "rb")
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = "{path}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic {auth}"
"""
    )
    return script


@contextmanager
def custify_sandbox(api_key: str, rate_limit: str) -> Iterator[str]:
    """A Custify sandbox in a process of its own, on a free port, with ``rate_limit``
    (``"100/10"``: requests per seconds); yields its URL once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "csroute", "sandbox", "custify", "--port", str(port),
               "--api-key", api_key, "--rate-limit", rate_limit]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"{url}/__sandbox/state?summary=true")
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


class Viewer:
    """One unfiltered reader of /admin/stream, in a thread, counting the records it gets."""

    def __init__(self, url: str, token: str) -> None:
        self.records = 0
        self._response = httpx.Client(timeout=httpx.Timeout(10.0, read=None)).send(
            httpx.Request(
                "GET", f"{url}/admin/stream", headers={"authorization": f"Bearer {token}"}
            ),
            stream=True,
        )
        lines = self._response.iter_lines()
        assert next(lines) == ": live"
        self._thread = threading.Thread(target=self._read, args=(lines,), daemon=True)
        self._thread.start()

    def _read(self, lines: Any) -> None:
        try:
            for line in lines:
                if line.startswith("data: "):
                    self.records += 1
        except Exception:
            return  # the server stopped

    def stop(self) -> None:
        self._response.close()


def serve(app: Any, port: int) -> None:
    """Serve an ASGI app on loopback as fast as uvicorn goes (httptools, uvloop), quietly."""
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="critical",
        access_log=False,
        http="httptools",
        loop="uvloop",
        lifespan="off",
    )


async def read_body(receive: Any) -> bytes:
    """A whole ASGI request body."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body
