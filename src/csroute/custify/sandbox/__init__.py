"""A local Custify API for tests, benchmarks and previews: every resource of the Custify API
reference (people, companies, events, batches, notes, tags, tickets, tasks, comments, files,
scores, financials, time tracks, custom data and the read-only lists) with Custify's rules and
envelopes, kept in memory, inspectable and able to inject faults.

See docs/sandboxes.md for what it emulates and where it is knowingly simpler than Custify.
"""

from csroute.custify.sandbox.app import create_app
from csroute.custify.sandbox.server import DEFAULT_PORT, running, serve

__all__ = ["DEFAULT_PORT", "create_app", "running", "serve"]
