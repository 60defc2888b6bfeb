"""``type: webhook``: each event as JSON to a URL, optionally batched into a JSON array."""

from csroute.destinations.webhook.destination import TYPE

__all__ = ["TYPE"]
