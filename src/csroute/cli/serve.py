"""``csroute serve`` and ``csroute config check``: start the pipeline, or check what it would
start."""

from __future__ import annotations

import socket
from typing import Annotated
from urllib.parse import urlsplit

import typer

from csroute.cli.common import UNAVAILABLE, USAGE, ConfigOption, config_path, fail, load_config, out
from csroute.config import Config


def serve(
    config: ConfigOption = None,
    role: Annotated[
        str,
        typer.Option(
            help="all: gateway and worker; gateway: ingestion only; worker (or router):"
            " delivery only. With PostgreSQL, run any number of each."
        ),
    ] = "all",
    host: Annotated[str | None, typer.Option(help="Override server.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Override server.port.")] = None,
    with_sandboxes: Annotated[
        bool,
        typer.Option(
            "--with-sandboxes",
            help="Also run a Custify or Kustomer sandbox where a destination delivers to this"
            " machine (127.0.0.1), for a local trial; always on for the demo.",
        ),
    ] = False,
) -> None:
    """Start the pipeline (with no configuration file: the demo, on embedded defaults)."""
    from csroute.demo import demo_sandboxes
    from csroute.serve import CannotListen, run
    from csroute.store.base import StoreUnavailable

    role = {"router": "worker"}.get(role, role)
    if role not in ("all", "gateway", "worker"):
        fail(f"--role: must be all, gateway or worker (got {role!r})", USAGE)
    cfg = load_config(config)
    if host is not None:
        cfg.server.host = host
    if port is not None:
        cfg.server.port = port
    sandboxes = with_sandboxes or config_path(config) is None
    companions = demo_sandboxes(cfg) if sandboxes else []
    served = {p for _, p in companions}
    for warning in unreachable_destinations(cfg, served):
        out.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    try:
        run(cfg, role, companions)  # type: ignore[arg-type]
    except CannotListen as e:
        fail(str(e), UNAVAILABLE)
    except StoreUnavailable as e:
        fail(f"the event store cannot be opened: {e}", UNAVAILABLE)


def unreachable_destinations(cfg: Config, served: set[int]) -> list[str]:
    """Enabled destinations on this machine where nothing listens: a sandbox or local receiver
    the user has not started. (Remote URLs are not probed: they may be slow or firewalled.)"""
    from csroute.demo import LOOPBACK, destination_url, sandbox_ports

    sandboxes = {port: served[0].type for port, served in sandbox_ports(cfg).items()}
    warnings = []
    for d in cfg.destinations:
        url = urlsplit(destination_url(d) or "")
        if not d.enabled or url.hostname not in LOOPBACK or url.port in served:
            continue
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname, port), timeout=1).close()
        except OSError:
            hint = (
                f"start it with `csroute sandbox {sandboxes[port]} --port {port}`, or run"
                " `csroute serve --with-sandboxes`"
                if port in sandboxes
                else "start it, or fix the URL"
            )
            warnings.append(
                f"destination {d.name!r} delivers to {url.geturl()}, where nothing is listening;"
                f" {hint}. Its events wait and are retried meanwhile."
            )
    return warnings


config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the configuration and summarise it (secrets masked); starts nothing."""
    from csroute.serve import banner

    cfg = load_config(config)
    for line in banner(cfg, "all"):
        out.print(line, highlight=False, soft_wrap=True)
    out.print("[green]configuration OK[/green]")
