"""``POST /batch`` and ``GET /batch/{id}`` (docs/custify-api.md, "Batch").

Custify documents neither the response bodies nor the order in which asynchronous jobs run. The
sandbox applies the jobs one after another in request order before it answers, each through the same
function as the single endpoint, and a failing job does not stop the others. Job ids are kept for
``batch_retention_s`` after the batch finished (six hours by default). The ``batch_shuffle`` fault
applies the jobs in a random order instead, to show whether a client depends on the order, and
``batch_job_errors`` fails chosen jobs (unapplied) while the rest of their batch goes through.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox.companies import upsert_company
from csroute.custify.sandbox.custom_data import upsert_custom_data
from csroute.custify.sandbox.events import insert_event
from csroute.custify.sandbox.faults import Faults, faults_of
from csroute.custify.sandbox.people import upsert_person
from csroute.custify.sandbox.responses import ApiError, Record, json_object, json_response
from csroute.custify.sandbox.settings import Settings, settings_of
from csroute.custify.sandbox.state import State, now_iso, state_of


def _person_job(state: State, payload: Record) -> Record:
    return {"statusCode": 200, "id": upsert_person(state, payload)["id"]}


def _company_job(state: State, payload: Record) -> Record:
    return {"statusCode": 200, "id": upsert_company(state, payload)["id"]}


def _event_job(state: State, payload: Record) -> Record:
    stored = insert_event(state, payload)
    return {"statusCode": 202} if stored else {"statusCode": 202, "deduplicated": True}


def _custom_data_job(state: State, payload: Record) -> Record:
    upsert_custom_data(state, payload)
    return {"statusCode": 200}


JOB_TYPES: dict[str, Callable[[State, Record], Record]] = {
    "people": _person_job,
    "company": _company_job,
    "event": _event_job,
    "custom-data": _custom_data_job,
}


def _parse(body: Record, settings: Settings) -> tuple[list[Record], bool, bool]:
    """(jobs, synchronous, returnJobId). ``returnJobId`` is taken by truthiness, since one of
    Custify's own samples passes a UUID string where the schema says boolean."""
    jobs = body.get("jobs")
    synchronous = body.get("synchronous", False)
    if not isinstance(synchronous, bool):
        raise ApiError(400, "synchronous must be a boolean")
    if not isinstance(jobs, list) or not jobs:
        raise ApiError(400, "jobs must be a non-empty array")
    limit = settings.batch_max_sync if synchronous else settings.batch_max_async
    if len(jobs) > limit:
        mode = "synchronous" if synchronous else "asynchronous"
        raise ApiError(400, f"at most {limit} jobs are allowed in a {mode} batch, got {len(jobs)}")
    for index, job in enumerate(jobs):
        if not isinstance(job, dict) or job.get("type") not in JOB_TYPES:
            raise ApiError(400, f"jobs[{index}].type must be one of {', '.join(JOB_TYPES)}")
        if not isinstance(job.get("payload"), dict):
            raise ApiError(400, f"jobs[{index}].payload must be an object")
    return jobs, synchronous, bool(body.get("returnJobId"))


def _run(state: State, faults: Faults, index: int, job: Record) -> Record:
    result: Record = {"index": index, "type": job["type"]}
    try:
        injected = faults.job_error(job["payload"])
        if injected is not None:
            raise ApiError(injected.status, injected.message)
        result.update(JOB_TYPES[job["type"]](state, job["payload"]))
        result["status"] = "succeeded"
    except ApiError as error:
        result.update(status="failed", statusCode=error.status, error=error.message)
    return result


def _forget_expired(state: State, now: float) -> None:
    """Drop job ids past their retention; batches finish in insertion order, so stop at the first
    one still kept."""
    deadlines = state.batch_deadlines
    while deadlines:
        job_id, deadline = next(iter(deadlines.items()))
        if deadline > now:
            break
        del deadlines[job_id]
        del state.batches[job_id]


async def post_batch(request: Request) -> Response:
    state, settings, faults = state_of(request), settings_of(request), faults_of(request)
    jobs, synchronous, return_job_id = _parse(await json_object(request), settings)
    order = list(range(len(jobs)))
    if faults.config.batch_shuffle:
        faults.random.shuffle(order)
    created_at = now_iso()
    results = sorted(
        (_run(state, faults, index, jobs[index]) for index in order), key=lambda r: r["index"]
    )
    failed = sum(result["status"] == "failed" for result in results)
    job_id = str(uuid.uuid4())
    batch: Record = {
        "jobId": job_id,
        "status": "completed",
        "synchronous": synchronous,
        "total": len(results),
        "succeeded": len(results) - failed,
        "failed": failed,
        "created_at": created_at,
        "finished_at": now_iso(),
        "results": results,
    }
    now = settings.clock()
    _forget_expired(state, now)
    state.batches[job_id] = batch
    state.batch_deadlines[job_id] = now + settings.batch_retention_s
    hidden = {"jobId"} if not return_job_id else set()
    if not synchronous:
        hidden.add("results")
    summary = {key: value for key, value in batch.items() if key not in hidden}
    return json_response(summary, 202)


async def get_batch(request: Request) -> Response:
    state = state_of(request)
    _forget_expired(state, settings_of(request).clock())
    batch = state.batches.get(request.path_params["id"])
    if batch is None:
        raise ApiError(404, "Batch job not found")
    return json_response(batch)


ROUTES = [
    Route("/batch", post_batch, methods=["POST"]),
    Route("/batch/{id}", get_batch, methods=["GET"]),
]
