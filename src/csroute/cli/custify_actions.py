"""``csroute custify <resource> <action>``: one command per row of the client's action table.

Each command gets one option per action argument, plus the shared ones: ``--data``/``--set``
for a JSON body, ``--table``/``--limit``/``--per-page``/``--param`` for listings, ``--yes``
for deletes, and ``--dry-run``, ``--connection``, ``--config`` for all. Output is JSON.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from csroute.cli.common import (
    CUSTIFY_ONLY,
    FAILED,
    UNAVAILABLE,
    USAGE,
    ConfigOption,
    fail,
    load_config,
    out,
)
from csroute.cli.tables import print_table
from csroute.custify.client import AsyncCustify, Connection, ConnectionNotFound, resolve
from csroute.custify.client.actions import ACTIONS, Action, Arg
from csroute.custify.client.errors import CustifyError, TransportError, ValidationError

ConnectionOption = Annotated[
    str | None,
    typer.Option(
        "--connection",
        "-C",
        help="Named connection from custify_connections (default: $CSROUTE_CUSTIFY_CONNECTION, "
        "else $CSROUTE_CUSTIFY_API_KEY, else the only or 'default' connection).",
        show_default=False,
    ),
]
TABLE_COLUMNS = ("id", "externalId", "user_id", "email", "company_id", "name", "title", "text")
MAX_COLUMNS = 6

_TYPES: dict[str, Any] = {
    "str": str | None,
    "int": int | None,
    "bool": bool | None,
    "list": list[str] | None,
    "json": str | None,
    "path": Path | None,
}


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def parse_json(text: str, what: str) -> Any:
    """JSON text, or ``@path`` for a file of JSON."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as e:
            fail(f"{what}: cannot read {text[1:]} ({e.strerror})", 2)
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError as e:
        fail(f"{what}: not valid JSON ({e})", 2)


def _scalar(text: str) -> Any:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


def build_body(data: str | None, sets: list[str] | None) -> dict[str, Any]:
    """``--data`` (a JSON object) with each ``--set a.b=value`` applied on top; values are JSON
    when they parse as JSON (``7``, ``true``, ``null``), else text."""
    body = parse_json(data, "--data") if data else {}
    if not isinstance(body, dict):
        fail("--data: must be a JSON object", 2)
    for item in sets or []:
        path, sep, value = item.partition("=")
        if not sep or not path:
            fail(f"--set: expected key=value (got {item!r})", 2)
        *parents, leaf = path.split(".")
        target = body
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                fail(f"--set {path}: {part} is not an object", 2)
        target[leaf] = _scalar(value)
    return body


def _option(arg: Arg) -> inspect.Parameter:
    flag = f"{arg.flag}/--no-{arg.flag[2:]}" if arg.type == "bool" else arg.flag
    help = arg.help + (f" One of: {', '.join(arg.choices)}." if arg.choices else "")
    option = typer.Option(flag, help=help, show_default=False)
    annotation = Annotated[_TYPES[arg.type], option]  # type: ignore[valid-type,name-defined]
    default = inspect.Parameter.empty if arg.required else None
    return inspect.Parameter(arg.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)  # fmt: skip


def _shared(name: str, annotation: Any, default: Any, *decls: str, help: str) -> inspect.Parameter:
    option = typer.Option(*decls, help=help, show_default=False)
    annotated = Annotated[annotation, option]
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotated
    )


def _parameters(action: Action) -> list[inspect.Parameter]:
    params = [_option(arg) for arg in action.args]
    if action.body:
        params += [
            _shared("opt_data", str | None, None, "--data", "-d",
                    help="Request body: JSON, or @file.json."),
            _shared("opt_set", list[str] | None, None, "--set", "-s",
                    help="Body field key=value (dots nest: custom_attributes.plan=pro)."),
        ]  # fmt: skip
    if action.kind == "list":
        params += [
            _shared("opt_param", list[str] | None, None, "--param", "-p",
                    help="Query parameter key=value (e.g. sorting, filters, type)."),
            _shared("opt_limit", int | None, None, "--limit", help="Stop after this many."),
            _shared("opt_per_page", int | None, None, "--per-page", help="Records per request."),
        ]  # fmt: skip
    if action.kind in ("list", "read"):
        params.append(_shared("opt_table", bool, False, "--table", help="A table, not JSON."))
    if action.kind == "delete":
        params.append(_shared("opt_yes", bool, False, "--yes", "-y", help="Do not ask first."))
    params += [
        _shared("opt_dry_run", bool, False, "--dry-run",
                help="Print the request (API key masked) instead of sending it."),
        _shared("opt_connection", str | None, None, "--connection", "-C",
                help="Named connection (see csroute custify connections)."),
        _shared("opt_config", Path | None, None, "--config", "-c", help="Configuration file."),
    ]  # fmt: skip
    return params


def connection_for(config: Path | None, name: str | None) -> Connection:
    try:
        return resolve(load_config(config, needs=CUSTIFY_ONLY).custify_connections, name)
    except ConnectionNotFound as e:
        fail(str(e), 2)


def _values(action: Action, given: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for arg in action.args:
        value = given.get(arg.name)
        if value is not None and arg.choices and value not in arg.choices:
            fail(f"{arg.flag}: must be one of {', '.join(arg.choices)} (got {value!r})", 2)
        if value is not None and arg.type == "json":
            value = parse_json(value, arg.flag)
        values[arg.name] = value
    for item in given.get("opt_param") or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--param: expected key=value (got {item!r})", 2)
        values[key] = _scalar(value)
    if given.get("opt_per_page"):
        values["per_page"] = given["opt_per_page"]
    return values


async def _execute(
    action: Action, connection: Connection, values: dict[str, Any], body: Any, options: Any
) -> Any:
    async with AsyncCustify(connection=connection, dry_run=options["opt_dry_run"]) as client:
        result = action.call(client, values, body)
        if action.kind == "list":
            limit = options.get("opt_limit")
            records: list[Any] = []
            async for record in result:
                if limit is not None and len(records) >= limit:
                    break
                records.append(record)
            result = records
        else:
            result = await result
        if options["opt_dry_run"]:
            return {"dry_run": True, "requests": client.recorded}
        return result


def run_action(action: Action, given: dict[str, Any]) -> None:
    connection = connection_for(given["opt_config"], given["opt_connection"])
    values = _values(action, given)
    body = build_body(given.get("opt_data"), given.get("opt_set")) if action.body else None
    if action.kind == "delete" and not given["opt_yes"] and not given["opt_dry_run"]:
        what = ", ".join(f"{k}={v}" for k, v in values.items() if v is not None)
        typer.confirm(
            f"Permanently delete {action.resource} {what} in Custify ({connection.name}, "
            f"{connection.base_url})? This cannot be undone.",
            abort=True,
            err=True,
        )
    try:
        result = asyncio.run(_execute(action, connection, values, body, given))
    except ValidationError as e:
        fail(str(e), USAGE if e.status is None else FAILED)
    except TransportError as e:
        fail(str(e), UNAVAILABLE)
    except CustifyError as e:
        fail(str(e))
    if given.get("opt_table") and not given["opt_dry_run"]:
        print_records(result if isinstance(result, list) else [result])
    else:
        print_json(result)


def print_records(records: list[dict[str, Any]]) -> None:
    keys = [k for k in TABLE_COLUMNS if any(k in r for r in records)]
    for record in records:
        keys += [k for k, v in record.items() if k not in keys and not isinstance(v, dict | list)]
    columns = keys[:MAX_COLUMNS]
    print_table(columns, ([r.get(k) for k in columns] for r in records), empty="no records")
    if records:
        out.print(f"{len(records)} record(s)", highlight=False)


def command(action: Action) -> Callable[..., None]:
    def run(**given: Any) -> None:
        run_action(action, given)

    run.__signature__ = inspect.Signature(_parameters(action))  # type: ignore[attr-defined]
    title = action.connector or f"{action.name.capitalize()} {action.resource}"
    run.__doc__ = f"{title}: {action.endpoint}."
    return run


def resource_apps() -> dict[str, typer.Typer]:
    """One Typer group per resource, each with its actions' commands."""
    apps: dict[str, typer.Typer] = {}
    for action in ACTIONS:
        app = apps.setdefault(
            action.resource,
            typer.Typer(help=f"Custify {action.resource}.", no_args_is_help=True),
        )
        app.command(action.name)(command(action))
    return apps


__all__ = ["ConfigOption", "ConnectionOption", "connection_for", "print_json", "resource_apps"]
