"""Runners that perform one action of the client's action table three ways (the async client,
the sync client, the ``csroute custify`` CLI), so each scenario is written once and checked
through all of them; plus a look at the sandbox's own state."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from csroute.cli.main import app
from csroute.custify.client import AsyncCustify, Custify, CustifyError
from csroute.custify.client.actions import BY_KEY, Action

API_KEY = "sandbox-key"
FAST = {"rate_limit_requests": 10_000, "rate_limit_window_s": 1.0}
"""Connection settings for functional tests: pacing is tested on its own."""

Runner = Callable[..., Any]


class CliFailed(CustifyError):
    """The CLI exited non-zero; ``message`` is its error output."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def async_runner(url: str) -> Runner:
    def run(key: str, body: Any = None, **values: Any) -> Any:
        action = BY_KEY[key]

        async def go() -> Any:
            async with AsyncCustify(API_KEY, url, **FAST) as client:
                result = action.call(client, values, body)
                if action.kind == "list":
                    return [record async for record in result]
                return await result

        return asyncio.run(go())

    return run


def sync_runner(client: Custify) -> Runner:
    def run(key: str, body: Any = None, **values: Any) -> Any:
        action = BY_KEY[key]
        result = action.call(client, values, body)
        return list(result) if action.kind == "list" else result

    return run


def write_config(path: Path, url: str, name: str = "sandbox", key: str = API_KEY) -> Path:
    path.write_text(
        "custify_connections:\n"
        f"  {name}:\n"
        f"    api_key: {key}\n"
        f"    base_url: {url}\n"
        f"    rate_limit_requests: {FAST['rate_limit_requests']}\n"
        f"    rate_limit_window_s: {FAST['rate_limit_window_s']}\n"
    )
    return path


def cli_args(action: Action, body: Any, values: dict[str, Any]) -> list[str]:
    args = [action.resource, action.name]
    for arg in action.args:
        value = values.pop(arg.name, None)
        if value is None:
            continue
        if arg.type == "bool":
            args.append(arg.flag if value else f"--no-{arg.flag[2:]}")
        elif arg.type == "list":
            for item in value:
                args += [arg.flag, str(item)]
        elif arg.type == "json":
            args += [arg.flag, json.dumps(value)]
        else:
            args += [arg.flag, str(value)]
    for name, value in values.items():  # listing query parameters
        if name == "per_page":
            args += ["--per-page", str(value)]
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            args += ["--param", f"{name}={text}"]
    if body is not None:
        args += ["--data", json.dumps(body)]
    if action.kind == "delete":
        args.append("--yes")
    return args


def invoke(args: list[str], config: Path, env: dict[str, str] | None = None) -> Any:
    """Run ``csroute custify ARGS`` and return its JSON output; CliFailed on a non-zero exit."""
    result = CliRunner().invoke(
        app,
        ["custify", *args, "--config", str(config)],
        env={"CSROUTE_CUSTIFY_API_KEY": "", **(env or {})},
    )
    if result.exit_code != 0:
        # rich wraps long lines; the message is compared word by word
        raise CliFailed(" ".join((result.stderr or result.output).split()), result.exit_code)
    return json.loads(result.stdout)


def cli_runner(config: Path) -> Runner:
    def run(key: str, body: Any = None, **values: Any) -> Any:
        action = BY_KEY[key]
        return invoke(cli_args(action, body, dict(values)), config)

    return run


def sandbox_state(url: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{url}/__sandbox/state").raise_for_status().json()
    return state


def sandbox_requests(url: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{url}/__sandbox/requests").raise_for_status().json()
    requests: list[dict[str, Any]] = body["requests"]
    return requests
