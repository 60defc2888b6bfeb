"""Reading Custify's batch answers: the job id of ``POST /batch`` and the per-job results of
``GET /batch/{id}``, whose bodies Custify does not document. The parser reads the sandbox's
answers (over real HTTP) and survives any other shape: unknown fields are ignored, and a job it
cannot read is unknown, never a crash and never a failure."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from csroute.custify.sandbox import create_app, running
from csroute.destinations.custify import explain
from csroute.destinations.custify.outcomes import batch_id, report
from support.hostile import json_values, spoiled

KEY = "sandbox-key"
WHEN = "2024-05-30T12:00:00.000Z"


def test_the_sandbox_answers_are_read_job_by_job() -> None:
    jobs = [
        {"type": "people", "payload": {"user_id": "u1", "email": "u1@x.io"}},
        {"type": "event", "payload": {"user_id": "ghost", "name": "Seen", "created_at": WHEN}},
        {"type": "people", "payload": {"user_id": "u2", "email": "bad@x.io"}},
    ]
    rule = {"field": "email", "value": "bad@x.io", "status": 422, "message": "Invalid email"}
    with (
        running(create_app(rate_limit=None)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as custify,
    ):
        custify.post("/__sandbox/faults", json={"batch_job_errors": [rule]}).raise_for_status()
        accepted = custify.post("/batch", json={"jobs": jobs, "returnJobId": True})
        assert accepted.status_code == 202
        found = batch_id(accepted.content)
        assert found is not None
        assert report(accepted.content, len(jobs)) is None  # asynchronous: no results yet
        checked = custify.get(f"/batch/{found}")
        synchronous = custify.post("/batch", json={"jobs": jobs[:1], "synchronous": True})

    outcome = report(checked.content, len(jobs))
    assert outcome is not None and outcome.finished
    assert [job.status for job in outcome.jobs] == [200, 404, 422]
    assert "People not found" in explain(404, outcome.jobs[1].body)
    assert "Invalid email" in explain(422, outcome.jobs[2].body)
    at_once = report(synchronous.content, 1)
    assert at_once is not None and at_once.finished and at_once.jobs[0].ok


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_missing_unreadable_and_misplaced_entries_are_unknown() -> None:
    answer = {
        "id": "b-7",
        "status": "completed",
        "extra": {"anything": [1, 2]},
        "jobs": [
            {"index": 2, "status": "failed", "message": "bad"},
            "not an object",
            {"index": 9, "statusCode": 500},
            {"index": True, "statusCode": 500},
            {"index": 0, "statusCode": 201, "note": "unknown field"},
            {"index": 1, "status": "mystery"},
        ],
    }

    outcome = report(body(answer), 4)

    assert batch_id(body(answer)) == "b-7"
    assert outcome is not None and outcome.finished
    assert [job.status for job in outcome.jobs] == [201, None, 400, None]
    assert "bad" in explain(400, outcome.jobs[2].body)


def test_entries_without_an_index_are_placed_by_position() -> None:
    answer = {"results": [{"status": "ok"}, {"status": "error", "code": 404}]}
    outcome = report(body(answer), 2)
    assert outcome is not None and [job.status for job in outcome.jobs] == [200, 404]


def test_a_batch_or_job_still_running_is_not_finished() -> None:
    running_batch = report(body({"status": "processing", "results": []}), 2)
    running_job = report(body({"results": [{"index": 0, "status": "queued"}]}), 1)
    assert running_batch is not None and not running_batch.finished
    assert running_job is not None and not running_job.finished
    assert running_job.jobs[0].status is None


def test_answers_without_results_or_id_report_nothing() -> None:
    for answer in (b"", b"not json", b"[]", body({"status": "completed"}), body(None)):
        assert report(answer, 3) is None
        assert batch_id(answer) is None
    assert batch_id(body({"jobId": "  "})) is None
    assert batch_id(body({"jobId": 12})) == "12"


ANSWER_KEYS = ["jobId", "id", "status", "results", "jobs", "index", "statusCode", "code", "error"]


@settings(max_examples=300, deadline=None)
@given(spoiled(json_values(ANSWER_KEYS)), st.integers(0, 5))
def test_any_answer_is_read_without_failing(answer: bytes, jobs: int) -> None:
    found = batch_id(answer)
    assert found is None or (isinstance(found, str) and found.strip())
    outcome = report(answer, jobs)
    if outcome is not None:
        assert len(outcome.jobs) == jobs
        assert all(j.status is None or 100 <= j.status <= 599 for j in outcome.jobs)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "index": st.one_of(st.integers(-2, 6), st.text(max_size=2), st.none()),
                "status": st.sampled_from(["succeeded", "failed", "queued", "", "weird", 3]),
                "statusCode": st.one_of(st.integers(0, 700), st.booleans(), st.text(max_size=3)),
                "error": st.text(max_size=10),
            },
        ),
        max_size=8,
    ),
    st.integers(0, 5),
)
def test_results_of_any_shape_give_one_outcome_per_job(
    entries: list[dict[str, Any]], jobs: int
) -> None:
    outcome = report(body({"results": entries}), jobs)
    assert outcome is not None and len(outcome.jobs) == jobs
    for job in outcome.jobs:
        assert job.status is None or 100 <= job.status <= 599
