"""A local Custify API for tests, benchmarks and previews: the people, company, event and batch
resources with Custify's rules, kept in memory, inspectable and able to inject faults.

See docs/sandboxes.md for what it emulates and where it is knowingly simpler than Custify.
"""

from csroute.custify.sandbox.app import create_app
from csroute.custify.sandbox.server import DEFAULT_PORT, running, serve

__all__ = ["DEFAULT_PORT", "create_app", "running", "serve"]
