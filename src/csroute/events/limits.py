"""The ``limits:`` section of the configuration file: how much one request and one event may
hold (docs/ingestion.md). Decoding takes this struct, not the whole configuration."""

from __future__ import annotations

from csroute.shape import Section


class Limits(Section):
    max_event_bytes: int = 32 * 1024
    max_request_bytes: int = 500 * 1024
    max_batch_events: int = 2500
    max_depth: int = 32
    """Deepest JSON nesting accepted in an event; deeper bodies are rejected, not walked."""
    body_timeout_s: float = 30.0
    """A request body not complete this long after its headers is answered 408 and its
    connection closed (a ``Content-Length`` longer than what is sent would hold it forever)."""
