"""Prometheus metrics of delivery. Labels stay low-cardinality: destination and reason kind."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERED = Counter("csroute_delivered", "Events delivered", ["destination"])
UNVERIFIED = Counter(
    "csroute_delivered_unverified",
    "Events delivered in an accepted batch whose per-job outcome was never checked",
    ["destination"],
)
RETRIED = Counter(
    "csroute_retried", "Delivery attempts that failed and will be retried", ["destination"]
)
DEAD = Counter("csroute_dead_lettered", "Events moved to the dead letters", ["destination"])
FILTERED = Counter(
    "csroute_filtered", "Events not delivered because of a filter", ["destination", "reason"]
)
REJECTED = Counter(
    "csroute_rejected", "Events the destination's transform refused", ["destination"]
)
THROTTLED = Counter("csroute_throttled", "Responses with status 429", ["destination"])
REQUEST_SECONDS = Histogram(
    "csroute_delivery_request_seconds",
    "Duration of delivery HTTP requests",
    ["destination"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BACKLOG = Gauge("csroute_backlog", "Events not yet taken by the router", ["destination"])
SENT = Gauge(
    "csroute_sent",
    "Events in accepted batches whose per-job outcome is still to be checked",
    ["destination"],
)
PENDING = Gauge("csroute_pending", "Events waiting for a retry or held behind one", ["destination"])
