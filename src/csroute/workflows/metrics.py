"""Prometheus metrics of the workflows, on the process registry that ``/metrics`` serves."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RUNS = Counter(
    "csroute_workflow_runs",
    "Workflow runs, by outcome: started (created for a trigger record), succeeded, failed"
    " (stopped at a step with a permanent error or out of tries), skipped (conditions false).",
    ["workflow", "outcome"],
)
RETRIES = Counter(
    "csroute_workflow_step_retries",
    "Step tries that met a retryable error (429, 5xx, no answer) and were tried again.",
    ["workflow", "step"],
)
LATENCY = Histogram(
    "csroute_workflow_run_seconds",
    "Seconds from a run's creation (its trigger record handed on) to its end.",
    ["workflow"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
