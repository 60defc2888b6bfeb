"""Running workflows against the Custify sandbox: a configuration around the sandbox, records
made through its API, and one poll of a trigger with its runs carried out in this process."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from starlette.applications import Starlette

from csroute.config import Config, load
from csroute.custify.sandbox.state import State
from csroute.store.base import Store, WorkflowRun
from csroute.triggers.runner import Triggers
from csroute.workflows.runner import Workflows

API_KEY = "workflow-sandbox-key"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"


class Kit:
    def __init__(self, app: Starlette, url: str) -> None:
        self.app = app
        self.url = url
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"})

    @property
    def state(self) -> State:
        state: State = self.app.state.sandbox
        return state

    def ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    def faults(self, **config: Any) -> None:
        self.ok(self.http.post("/__sandbox/faults", json=config))

    def requests(self, method: str, path: str) -> list[dict[str, Any]]:
        log = self.ok(self.http.get("/__sandbox/requests"))["requests"]
        return [r for r in log if r["method"] == method and r["path"] == path]

    def config(self, data: Path, **sections: Any) -> dict[str, Any]:
        return {
            "data_dir": str(data),
            "sources": [{"name": "custify", "write_key": "wk"}],
            "custify_connections": {"sandbox": {"api_key": API_KEY, "base_url": self.url}},
            **sections,
        }


def write_config(path: Path, document: dict[str, Any]) -> Config:
    path.write_text(yaml.safe_dump(document))
    return load(path)


async def poll_and_run(config: Config, store: Store, trigger: str) -> list[WorkflowRun]:
    """One poll of ``trigger`` handing its records to the workflows, then every run carried
    out; the runs created, oldest first."""
    workflows = Workflows(config, store)
    triggers = Triggers(config, store, names=[trigger], on_record=workflows.accept)
    try:
        await triggers.poll(trigger)
        ids = await store.unfinished_runs(time.time())
        runs = [await workflows.run(id) for id in ids]
    finally:
        await triggers.stop()
        await workflows.stop()
    return [run for run in runs if run is not None]


class HoldFirst:
    """An ASGI wrapper of the sandbox that holds the first ``method path`` request until
    ``release()``, then answers it 503 without passing it on (the request is never applied);
    every other request goes straight through. ``arrived`` is set once the request is held: the
    moment a test may kill its sender mid-step."""

    def __init__(self, app: Starlette, method: str, path: str) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.arrived = threading.Event()
        self._released = threading.Event()
        self._held = False

    def release(self) -> None:
        self._released.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        wanted = scope["type"] == "http" and (scope["method"], scope["path"]) == (
            self.method,
            self.path,
        )
        if not wanted or self._held:
            await self.app(scope, receive, send)
            return
        self._held = True
        self.arrived.set()
        while not self._released.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})
