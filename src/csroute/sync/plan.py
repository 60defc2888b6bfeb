"""What a sync sends: its settings (a template, or a manual request), and the requests built from
payloads, one per record or one per batch of records.

Batch mode (docs/sync.md): records go under ``jobs`` as ``{type, payload}`` items, 100
per asynchronous request, with ``synchronous: false`` and ``returnJobId: true``; the property, the
wrapping, the size and the other properties are settings, so a Nexla-style profile (500 records
under ``batch``) or a manual endpoint's batching can be configured too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from csroute.custify.client.core import Call
from csroute.sync.templates import CUSTOM_DATA, Payload, Template

DEFAULT_BATCH_SIZE = 100
BATCH_OTHER = {"synchronous": False, "returnJobId": True}


@dataclass(frozen=True, slots=True)
class Batching:
    size: int = DEFAULT_BATCH_SIZE
    property: str = "jobs"
    job_type: str | None = None
    """Wraps each record as ``{"type": job_type, "payload": record}``; None sends it as is."""
    other: dict[str, Any] = field(default_factory=lambda: dict(BATCH_OTHER))
    path: str = "/batch"
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Plan:
    """A template (or the manual one) and, when records are batched, how."""

    template: Template
    batching: Batching | None = None
    params: dict[str, str] = field(default_factory=dict)
    """Query parameters of every request (manual configuration)."""

    def single(self, payload: Payload) -> Call:
        """The request that sends one record on its own."""
        template = self.template
        if template is CUSTOM_DATA:
            body = dict(payload)
            del body["entityModel"]
            owner = "company_id" if "company_id" in body else "user_id"
            model = "companies" if owner == "company_id" else "people"
            params = {owner: str(body.pop(owner))}
            return Call(template.method, f"{template.path}/{model}", params, body)
        return Call(template.method, template.path, dict(self.params), payload)

    def batch(self, payloads: list[Payload]) -> Call:
        batching = self.batching
        assert batching is not None
        items: list[Any] = (
            [{"type": batching.job_type, "payload": p} for p in payloads]
            if batching.job_type is not None
            else payloads
        )
        body = {batching.property: items, **batching.other}
        return Call(batching.method, batching.path, dict(self.params), body)

    @property
    def per_request(self) -> int:
        return 1 if self.batching is None else self.batching.size
