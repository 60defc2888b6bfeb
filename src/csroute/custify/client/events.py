"""Events and batches (docs/custify-api.md, "Events" and "Batch")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from csroute.custify import api
from csroute.custify.client import validate
from csroute.custify.client.base import Body, Group, merged
from csroute.custify.client.companies import check_company
from csroute.custify.client.core import Call
from csroute.custify.client.envelopes import Record
from csroute.custify.client.errors import ValidationError
from csroute.custify.client.people import check_person

JOB_TYPES = ("people", "company", "event", "custom-data")


def check_event(data: Mapping[str, Any]) -> None:
    validate.required(data, "name", "created_at")
    validate.any_of(data, "user_id", "email", "company_id")
    validate.strings(data, ("name", "deduplication_id"), api.MAX_EVENT_STRING_LENGTH)
    validate.metadata(data)


class Events(Group):
    async def insert(self, body: Body = None, /, **fields: Any) -> Record:
        """``POST /event`` (202). The person must exist: an unknown one is NotFound."""
        data = merged(body, fields)
        check_event(data)
        return await self._record(Call("POST", "/event", body=data))


PAYLOAD_CHECKS = {"people": check_person, "company": check_company, "event": check_event}


class Batch(Group):
    async def submit(
        self,
        jobs: Sequence[Mapping[str, Any]],
        *,
        synchronous: bool = False,
        return_job_id: bool = True,
        max_jobs: int | None = None,
    ) -> Record:
        """``POST /batch`` with ``{type, payload}`` jobs (at most 100, or 3 synchronous; an
        account that accepts more can raise ``max_jobs``). Payloads of people, company and
        event jobs are checked like their single calls."""
        limit = max_jobs or (api.MAX_SYNCHRONOUS_JOBS if synchronous else api.MAX_ASYNCHRONOUS_JOBS)
        if not jobs or len(jobs) > limit:
            raise validate.invalid("jobs", f"must hold 1 to {limit} jobs (got {len(jobs)})")
        for index, job in enumerate(jobs):
            if job.get("type") not in JOB_TYPES or not isinstance(job.get("payload"), Mapping):
                raise validate.invalid(
                    f"jobs[{index}]", f"needs a type ({', '.join(JOB_TYPES)}) and a payload object"
                )
            if check := PAYLOAD_CHECKS.get(job["type"]):
                try:
                    check(job["payload"])
                except ValidationError as e:
                    where = f"jobs[{index}].payload"
                    raise ValidationError(f"{where}.{e}", field=f"{where}.{e.field}") from None
        body = {"jobs": list(jobs), "synchronous": synchronous, "returnJobId": return_job_id}
        return await self._record(Call("POST", "/batch", body=body))

    async def status(self, job_id: str) -> Record:
        """``GET /batch/{id}``: kept by Custify for 6 hours after the batch finished."""
        return await self._record(Call("GET", f"/batch/{job_id}"))
