"""What the gateway counts, and the Prometheus counters that back it.

The gateway calls the hooks once per request (with a count), never once per event, so
metrics cost nothing measurable on the hot path. ``reason`` is always a rule name from
``csroute.events.errors`` (a small fixed set), never a field path or a client value, so
label cardinality stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric


class GatewayMetrics(Protocol):
    def accepted(self, source: str, count: int) -> None:
        """``count`` events of ``source`` were durably stored."""

    def rejected(self, source: str, reason: str, count: int) -> None:
        """``count`` events were refused for ``reason``.

        For a refused request whose events were never counted (bad JSON, unknown write
        key, ...) ``count`` is 1 and ``source`` is ``""`` when it is not known.
        """

    def refused(self, reason: str) -> None:
        """One request was answered with an error (any path, any method) for ``reason``."""


class PrometheusGatewayMetrics:
    """``csroute_gateway_events_accepted_total{source}``, ``..._rejected_total{source,reason}``,
    ``csroute_gateway_requests_refused_total{reason}``.

    The counts are plain integers, turned into Prometheus samples only when scraped: a
    ``prometheus_client.Counter`` takes a lock and two calls per increment, a measurable share
    of a single-event request. Increments happen on the event loop's thread only.
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self._accepted: dict[str, int] = {}
        self._rejected: dict[tuple[str, str], int] = {}
        self._refused: dict[str, int] = {}
        registry.register(self)

    def accepted(self, source: str, count: int) -> None:
        self._accepted[source] = self._accepted.get(source, 0) + count

    def rejected(self, source: str, reason: str, count: int) -> None:
        key = (source, reason)
        self._rejected[key] = self._rejected.get(key, 0) + count

    def refused(self, reason: str) -> None:
        self._refused[reason] = self._refused.get(reason, 0) + 1

    def collect(self) -> Iterator[Metric]:
        accepted = CounterMetricFamily(
            "csroute_gateway_events_accepted",
            "Events durably stored by the gateway.",
            labels=["source"],
        )
        for source, count in list(self._accepted.items()):
            accepted.add_metric([source], count)
        yield accepted
        rejected = CounterMetricFamily(
            "csroute_gateway_events_rejected",
            "Events (or whole requests, counted as one) refused by the gateway, by rule.",
            labels=["source", "reason"],
        )
        for (source, reason), count in list(self._rejected.items()):
            rejected.add_metric([source, reason], count)
        yield rejected
        refused = CounterMetricFamily(
            "csroute_gateway_requests_refused",
            "Requests answered with an error (unknown path, write key, CORS, body...), by rule.",
            labels=["reason"],
        )
        for reason, count in list(self._refused.items()):
            refused.add_metric([reason], count)
        yield refused
