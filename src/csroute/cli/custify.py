"""``csroute custify``: Custify operations from the command line.

``csroute custify <resource> <action>`` covers every client action (custify_actions.py builds
them from the client's action table); ``test-connection`` checks a key and ``connections``
lists the named connections.
"""

from __future__ import annotations

import asyncio

import typer

from csroute.cli.common import CUSTIFY_ONLY, UNAVAILABLE, ConfigOption, fail, load_config
from csroute.cli.custify_actions import (
    ConnectionOption,
    connection_for,
    print_json,
    resource_apps,
)
from csroute.cli.forget import Destinations, UserId, run_forget
from csroute.custify.client import AsyncCustify, CustifyError, TransportError, resolve

app = typer.Typer(help="Custify operations and the whole Custify API.", no_args_is_help=True)
for _name, _resource_app in resource_apps().items():
    app.add_typer(_resource_app, name=_name)


@app.command("forget")
def custify_forget(
    user_id: UserId, config: ConfigOption = None, destination: Destinations = None
) -> None:
    """Delete a person in Custify (DELETE /people?user_id=; 404 counts as done) and stop
    delivering their queued events to Custify destinations."""
    run_forget(user_id, config, destination, ("custify",))


@app.command("test-connection")
def test_connection(connection: ConnectionOption = None, config: ConfigOption = None) -> None:
    """Check that a connection's API key works (one cheap read)."""
    chosen = connection_for(config, connection)

    async def check() -> dict[str, object]:
        async with AsyncCustify(connection=chosen) as client:
            return await client.test_connection()

    try:
        print_json(asyncio.run(check()))
    except TransportError as e:
        fail(f"connection {chosen.name!r}: {e}", UNAVAILABLE)
    except CustifyError as e:
        fail(f"connection {chosen.name!r} ({chosen.base_url}) failed: {e}")


@app.command("connections")
def connections(config: ConfigOption = None) -> None:
    """List the named connections (API keys masked) and the default one."""
    cfg = load_config(config, needs=CUSTIFY_ONLY)
    named = [
        resolve(cfg.custify_connections, name).describe() | {"source": "config"}
        for name in cfg.custify_connections
    ]
    try:
        default = resolve(cfg.custify_connections, None).name
    except LookupError:
        default = None
    env = (
        []
        if default != "env"
        else [resolve(cfg.custify_connections, None).describe() | {"source": "env"}]
    )
    print_json({"connections": named + env, "default": default})
