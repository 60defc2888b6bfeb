"""``csroute``: serve, inspect and operate the pipeline."""

from __future__ import annotations

from typing import Annotated

import typer

from csroute.cli import custify, db, dlq, sandbox, sync, transform, triggers
from csroute.cli.common import ConfigOption, fail, load_config, out
from csroute.cli.forget import forget
from csroute.cli.send import send
from csroute.cli.status import status

app = typer.Typer(
    name="csroute",
    help="Customer-event pipeline: Segment/RudderStack in, Custify, Kustomer and webhooks out.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(dlq.app, name="dlq")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(custify.app, name="custify")
app.add_typer(db.app, name="db")
app.add_typer(sync.app, name="sync")
app.add_typer(triggers.app, name="triggers")
app.command("forget")(forget)
app.command("transform")(transform.transform)
app.command("send")(send)
app.command("status")(status)

config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.command()
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
) -> None:
    """Start the pipeline (with no configuration file: the demo, on embedded defaults)."""
    from csroute.cli.common import config_path
    from csroute.demo import demo_sandboxes
    from csroute.serve import run

    role = {"router": "worker"}.get(role, role)
    if role not in ("all", "gateway", "worker"):
        fail(f"--role: must be all, gateway or worker (got {role!r})", 2)
    cfg = load_config(config)
    if host is not None:
        cfg.server.host = host
    if port is not None:
        cfg.server.port = port
    companions = demo_sandboxes() if config_path(config) is None else []
    run(cfg, role, companions)  # type: ignore[arg-type]


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the configuration and summarise it (secrets masked)."""
    from csroute.serve import banner

    cfg = load_config(config)
    for line in banner(cfg, "all"):
        out.print(line, highlight=False)
    out.print("[green]configuration OK[/green]")
