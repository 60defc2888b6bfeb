"""The ``csroute`` command line."""

from csroute.cli.main import app

__all__ = ["app"]
