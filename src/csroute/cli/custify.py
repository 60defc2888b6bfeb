"""``csroute custify``: Custify operations from the command line."""

from __future__ import annotations

import typer

from csroute.cli.common import ConfigOption
from csroute.cli.forget import Destinations, UserId, run_forget

app = typer.Typer(help="Custify operations.", no_args_is_help=True)


@app.command("forget")
def custify_forget(
    user_id: UserId, config: ConfigOption = None, destination: Destinations = None
) -> None:
    """Delete a person in Custify (DELETE /people?user_id=; 404 counts as done) and stop
    delivering their queued events to Custify destinations."""
    run_forget(user_id, config, destination, ("custify",))
