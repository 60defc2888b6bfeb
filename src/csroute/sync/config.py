"""The ``syncs:`` section of the configuration file: saved bulk syncs from files to Custify
(docs/sync.md).

Only the structs, light to import, so ``csroute.config`` can name them for every command;
``csroute.sync.settings`` turns one into a plan.
"""

from __future__ import annotations

from typing import Any, Literal

from csroute.shape import Section


class ManualRequestConfig(Section):
    """A request built by hand for an endpoint without a template (docs/sync.md)."""

    method: str = "POST"
    path: str | None = None
    """Relative to the connection's base URL, e.g. ``/people``; or give ``url``."""
    url: str | None = None
    headers: dict[str, str] = {}
    """Extra headers; ``Authorization`` comes from the connection and is refused here."""
    batch_property: str | None = None
    """Batch records under this property (e.g. ``batch``); None sends one record per call."""
    other: dict[str, Any] = {}
    """Further top-level properties of a batched request, e.g. ``{"synchronous": false}``."""


class SyncConfig(Section):
    """A saved bulk sync (``csroute sync run NAME``); see docs/sync.md."""

    file: str
    template: str
    """A template name (``Upsert Person``, ``upsert-person``), or ``manual``."""
    connection: str | None = None
    format: Literal["csv", "jsonl", "json", "parquet"] | None = None
    map: dict[str, str] = {}
    exclude: list[str] = []
    batch: bool = False
    """Send through ``POST /batch`` (templates with a batch job type)."""
    batch_size: int = 100
    job_type: Literal["people", "company", "event", "custom-data"] | None = None
    """Send Batch Request: the job type of every record (default ``people``)."""
    manual: ManualRequestConfig | None = None
    response_log: str | None = None
    error_report: str | None = None
    checkpoint: str | None = None
    webhook: str | None = None
    active: bool = True
