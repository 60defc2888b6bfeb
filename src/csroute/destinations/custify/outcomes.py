"""Reading the outcome of a ``POST /batch``: its job id, and each job's result.

Custify documents neither the answer to ``POST /batch`` (where the job id appears with
``returnJobId``) nor the body of ``GET /batch/{id}``, only that the latter gives "status and
results". So the parser takes what any plausible shape offers and never fails: the id under
``jobId`` (or ``job_id``, ``batchId``, ``batch_id``, ``id``); the per-job list under ``results``
(or ``jobs``), each entry placed by its ``index`` (else by its position), judged by its
``status`` word and ``statusCode``. A job with no entry, or one that cannot be read, is unknown,
not failed. docs/destinations/custify.md describes the shape the sandbox answers.
"""

from __future__ import annotations

from typing import Any

import msgspec

from csroute.destinations.base import UNKNOWN_JOB, BatchReport, JobOutcome

_ID_KEYS = ("jobId", "job_id", "batchId", "batch_id", "id")
_LIST_KEYS = ("results", "jobs")
_CODE_KEYS = ("statusCode", "status_code", "code")
SUCCEEDED = frozenset({"succeeded", "success", "successful", "completed", "complete", "done", "ok"})
FAILED = frozenset({"failed", "failure", "error", "errored", "rejected", "invalid"})
UNFINISHED = frozenset(
    {"queued", "pending", "processing", "running", "in_progress", "started", "waiting", "accepted"}
)
REFUSED = 400
"""The status given to a job reported failed without a status code: refused as sent."""


def decoded(body: bytes) -> Any:
    """The JSON in a Custify answer, or None when there is none (not JSON, not UTF-8)."""
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def batch_id(body: bytes) -> str | None:
    """The id of an accepted batch, from the answer to ``POST /batch``."""
    data = decoded(body)
    if not isinstance(data, dict):
        return None
    for key in _ID_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _word(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _code(entry: dict[str, Any]) -> int | None:
    for key in _CODE_KEYS:
        value = entry.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    return None


def _job(entry: dict[str, Any]) -> tuple[JobOutcome, bool]:
    """One job's outcome, and whether it is still running."""
    word, code = _word(entry.get("status")), _code(entry)
    if word in UNFINISHED:
        return UNKNOWN_JOB, True
    body = msgspec.json.encode(entry)
    if word in FAILED or (code is not None and code >= 400):
        return JobOutcome(code if code is not None and code >= 400 else REFUSED, body), False
    if word in SUCCEEDED or (code is not None and 200 <= code < 300):
        return JobOutcome(code if code is not None and code < 300 else 200, body), False
    return UNKNOWN_JOB, False


def report(body: bytes, jobs: int) -> BatchReport | None:
    """Per-job outcomes of a batch of ``jobs`` jobs; None when the body reports none."""
    data = decoded(body)
    if not isinstance(data, dict):
        return None
    entries = next((data[k] for k in _LIST_KEYS if isinstance(data.get(k), list)), None)
    if entries is None:
        return None
    outcomes = [UNKNOWN_JOB] * jobs
    running = _word(data.get("status")) in UNFINISHED
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        index = entry.get("index", position)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < jobs:
            continue
        outcomes[index], still = _job(entry)
        running = running or still
    return BatchReport(not running, outcomes)
