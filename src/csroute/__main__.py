"""``python -m csroute`` is the ``csroute`` command."""

from csroute.cli import app

app()
