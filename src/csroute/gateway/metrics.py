"""What the gateway counts, and the Prometheus counters that back it.

The gateway calls the hooks once per request (with a count), never once per event, so
metrics cost nothing measurable on the hot path. ``reason`` is always a rule name from
``csroute.events.errors`` (a small fixed set), never a field path or a client value, so
label cardinality stays bounded.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter


class GatewayMetrics(Protocol):
    def accepted(self, source: str, count: int) -> None:
        """``count`` events of ``source`` were durably stored."""

    def rejected(self, source: str, reason: str, count: int) -> None:
        """``count`` events were refused for ``reason``.

        For a refused request whose events were never counted (bad JSON, unknown write
        key, ...) ``count`` is 1 and ``source`` is ``""`` when it is not known.
        """


class PrometheusGatewayMetrics:
    """``csroute_gateway_events_accepted_total{source}``, ``..._rejected_total{source,reason}``."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self._accepted = Counter(
            "csroute_gateway_events_accepted",
            "Events durably stored by the gateway.",
            ["source"],
            registry=registry,
        )
        self._rejected = Counter(
            "csroute_gateway_events_rejected",
            "Events (or whole requests, counted as one) refused by the gateway, by rule.",
            ["source", "reason"],
            registry=registry,
        )
        self._accepted_by_source: dict[str, Counter] = {}

    def accepted(self, source: str, count: int) -> None:
        # Called once per request: a dict lookup instead of ``labels()`` (lock, validation).
        child = self._accepted_by_source.get(source)
        if child is None:
            child = self._accepted_by_source[source] = self._accepted.labels(source)
        child.inc(count)

    def rejected(self, source: str, reason: str, count: int) -> None:
        self._rejected.labels(source, reason).inc(count)
