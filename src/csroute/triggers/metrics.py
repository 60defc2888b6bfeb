"""Prometheus counters of the triggers, on the process registry that ``/metrics`` serves."""

from __future__ import annotations

from prometheus_client import Counter

HANDED_ON = Counter(
    "csroute_trigger_records",
    "Records a trigger handed on, by how they were found (poll or push).",
    ["trigger", "via"],
)
POLLS = Counter(
    "csroute_trigger_polls",
    "Polls of a trigger, by outcome (ok or failed).",
    ["trigger", "outcome"],
)
REQUESTS = Counter(
    "csroute_trigger_requests",
    "Custify API requests made by a trigger's polling.",
    ["trigger"],
)
WEBHOOKS = Counter(
    "csroute_trigger_webhooks",
    "Outgoing-webhook deliveries from Custify received for a trigger, by outcome: accepted,"
    " duplicate, ignored (another event), missing_signature, bad_signature, invalid, failed.",
    ["trigger", "outcome"],
)
