"""A local Kustomer org: tracking endpoints, customer lookups, rate limits and faults.

See docs/sandboxes.md. ``create_app`` builds the Starlette app, ``serve`` runs it (the
``csroute sandbox kustomer`` command), ``running`` runs it in a thread for tests.
"""

from csroute.kustomer.sandbox.app import DEFAULT_KEYS, create_app
from csroute.kustomer.sandbox.rules import Rules
from csroute.kustomer.sandbox.server import DEFAULT_PORT, running, serve

__all__ = ["DEFAULT_KEYS", "DEFAULT_PORT", "Rules", "create_app", "running", "serve"]
