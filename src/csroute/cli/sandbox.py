"""``csroute sandbox``: local stand-ins for the Custify and Kustomer APIs."""

from __future__ import annotations

from typing import Annotated

import typer

from csroute.cli.common import UNAVAILABLE, USAGE, fail

app = typer.Typer(help="Run a local sandbox of a destination's API.", no_args_is_help=True)

Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Keys = Annotated[list[str] | None, typer.Option("--api-key", help="Accepted API key (repeatable).")]


@app.command()
def custify(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8091,
    api_key: Keys = None,
    rate_limit: Annotated[
        str, typer.Option(help="Requests/window-seconds per key, e.g. 100/10; 'off' disables.")
    ] = "100/10",
) -> None:
    """Emulate the Custify API (people, companies, events, batch) with inspectable state."""
    from csroute.custify.sandbox.server import serve

    limit: tuple[int, float] | None = None
    if rate_limit != "off":
        requests, _, window = rate_limit.partition("/")
        try:
            limit = (int(requests), float(window or 10))
        except ValueError:
            fail(
                f"--rate-limit: expected REQUESTS/SECONDS such as 100/10, or off "
                f"(got {rate_limit!r})",
                USAGE,
            )
    _check_port(host, port)
    typer.echo(f"Custify sandbox on http://{host}:{port} (state: /__sandbox/state)")
    serve(host, port, api_keys=tuple(api_key or ["sandbox-key"]), rate_limit=limit)


@app.command()
def kustomer(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8092,
    org_name: Annotated[str, typer.Option(help="The emulated organization.")] = "sandbox",
    api_key: Keys = None,
    rate_limit_per_minute: Annotated[
        int, typer.Option(help="Tracking requests per minute; 0 disables.")
    ] = 300,
) -> None:
    """Emulate Kustomer's tracking API and customer lookups, with timelines to inspect."""
    from csroute.kustomer.sandbox.app import ALL_ROLES
    from csroute.kustomer.sandbox.server import serve

    keys = {key: ALL_ROLES for key in (api_key or ["sandbox-key"])}
    _check_port(host, port)
    typer.echo(f"Kustomer sandbox for org {org_name!r} on http://{host}:{port}")
    serve(
        host,
        port,
        org_name=org_name,
        api_keys=keys,
        rate_limit_per_minute=rate_limit_per_minute or None,
    )


def _check_port(host: str, port: int) -> None:
    """Fail before saying where the sandbox runs when its port is taken (the server binds it a
    moment later, as the check's socket lets go)."""
    from csroute.serve import CannotListen, bind

    try:
        bind(host, port).close()
    except CannotListen as e:
        fail(str(e), UNAVAILABLE)
