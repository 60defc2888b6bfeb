"""What the router must know about Custify's API: rate limit, ``POST /batch``, error meanings."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from csroute.custify.api import BATCH_RETENTION_S, error_message, rate_limit_key
from csroute.destinations.base import Batching, BatchOutcomes, Delivery, RateLimit, Request
from csroute.destinations.custify import outcomes
from csroute.destinations.custify.endpoints import NO_PARAMS, Endpoints, endpoints
from csroute.destinations.custify.settings import Settings


def delivery(settings: Settings) -> Delivery:
    ends = endpoints(settings)
    rate = RateLimit(
        settings.rate_limit_requests,
        settings.rate_limit_window_s,
        rate_limit_key(settings.api_key, settings.base_url),
    )
    batching = checks = None
    if settings.batch_size > 1:
        batching = Batching(
            max_size=settings.batch_size,
            combine=_Combiner(ends, settings.batch_synchronous),
            accepts=_Accepts(ends),
            # Custify does not document the order in which it applies the jobs of one batch, so
            # a user's next event (a track after its identify) goes in the next batch.
            one_per_user=True,
        )
        checks = BatchOutcomes(
            batch_id=outcomes.batch_id,
            report=outcomes.report,
            check=_Check(ends),
            every=settings.batch_check_every,
            delay_s=settings.batch_check_delay_s,
            retention_s=BATCH_RETENTION_S,
        )
    return Delivery(
        rate_limit=rate,
        batching=batching,
        explain=explain,
        timeout_s=settings.timeout_s,
        outcomes=checks,
    )


class _Check:
    """``GET /batch/{id}``: the status and per-job results of an accepted batch."""

    def __init__(self, ends: Endpoints) -> None:
        self.ends = ends

    def __call__(self, batch_id: str) -> Request:
        url = f"{self.ends.batch}/{quote(batch_id, safe='')}"
        return Request("GET", url, self.ends.headers, NO_PARAMS)


class _Accepts:
    """Only the three upserts have batch job types."""

    def __init__(self, ends: Endpoints) -> None:
        self.urls = frozenset((ends.people, ends.company, ends.event))

    def __call__(self, request: Request) -> bool:
        return request.method == "POST" and request.url in self.urls


class _Combiner:
    """Requests become the jobs of one ``POST /batch``, in the order given."""

    def __init__(self, ends: Endpoints, synchronous: bool) -> None:
        self.ends = ends
        self.synchronous = synchronous
        self.job_types = {ends.people: "people", ends.company: "company", ends.event: "event"}

    def __call__(self, requests: Sequence[Request]) -> Request:
        jobs = [{"type": self.job_types[r.url], "payload": r.body} for r in requests]
        body = {"jobs": jobs, "synchronous": self.synchronous, "returnJobId": True}
        return Request("POST", self.ends.batch, self.ends.headers, NO_PARAMS, body)


def explain(status: int, body: bytes) -> str:
    """Plain words for a failed Custify response: what went wrong and what to do."""
    message = error_message(body)
    detail = f" (Custify: {message})" if message else ""
    if status == 401:
        return (
            "Custify rejected the API key: check api_key, and base_url if the account is on a "
            f"regional cluster{detail}"
        )
    if status == 403:
        return f"the API key may not do this (read-only key, or API access disabled){detail}"
    if status == 404:
        return (
            "Custify does not know this person (events need the person to exist: the user must "
            f"be identified, by user_id or email, before their events){detail}"
        )
    if status == 429:
        return f"rate limited by Custify; lower rate_limit_requests for this key{detail}"
    if status in (400, 422):
        return f"Custify refused the request as invalid{detail or ' (no reason given)'}"
    if status >= 500:
        return f"Custify had a server error{detail}"
    return f"unexpected answer from Custify{detail}"
