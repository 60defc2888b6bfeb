"""Custify sandbox: events (202, unknown people, company-only events, deduplication, metadata
limits) and batches (job limits, job ids and status, per-job results, order), over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from custify_helpers import Clock

WHEN = "2024-05-30T12:00:00.000Z"


def events(custify: httpx.Client) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = custify.get("/__sandbox/state").json()["events"]
    return result


def event(**fields: Any) -> dict[str, Any]:
    return {"name": "Signed in", "created_at": WHEN, **fields}


def test_event_is_accepted_with_an_empty_body(custify: httpx.Client) -> None:
    person = custify.post("/people", json={"user_id": "u1"}).json()
    response = custify.post("/event", json=event(user_id="u1", metadata={"plan": "pro"}))
    assert (response.status_code, response.content) == (202, b"")
    [stored] = events(custify)
    assert stored["people"] == person["id"] and stored["metadata"] == {"plan": "pro"}


def test_event_for_an_unknown_person_is_404_and_not_stored(custify: httpx.Client) -> None:
    response = custify.post("/event", json=event(user_id="ghost"))
    assert response.status_code == 404
    assert response.json() == {"error": "People not found", "message": "People not found"}
    assert events(custify) == []


def test_user_id_wins_over_email_and_email_is_the_fallback(custify: httpx.Client) -> None:
    ann = custify.post("/people", json={"user_id": "ann", "email": "ann@x.com"}).json()
    bob = custify.post("/people", json={"user_id": "bob", "email": "bob@x.com"}).json()
    custify.post("/event", json=event(user_id="ann", email="bob@x.com")).raise_for_status()
    custify.post("/event", json=event(user_id="unknown", email="bob@x.com")).raise_for_status()
    assert [e["people"] for e in events(custify)] == [ann["id"], bob["id"]]


def test_company_only_events(custify: httpx.Client) -> None:
    acme = custify.post("/company", json={"company_id": "c1"}).json()
    assert custify.post("/event", json=event(company_id="c1")).status_code == 202
    assert events(custify)[0]["company"] == acme["id"] and events(custify)[0]["people"] is None
    assert custify.post("/event", json=event(company_id="nope")).status_code == 404


def test_repeated_deduplication_id_is_accepted_but_stored_once(custify: httpx.Client) -> None:
    custify.post("/people", json={"user_id": "u1"})
    for _ in range(3):
        assert (
            custify.post("/event", json=event(user_id="u1", deduplication_id="m-1")).status_code
            == 202
        )
    custify.post("/event", json=event(user_id="u1", deduplication_id="m-2"))
    assert [e["deduplication_id"] for e in events(custify)] == ["m-1", "m-2"]
    summary = custify.get("/__sandbox/state", params={"summary": "true"}).json()
    assert summary["counters"]["events_deduplicated"] == 2


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"created_at": None}, "created_at"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"metadata": {f"k{n}": n for n in range(51)}}, "50 keys"),
        ({"metadata": {"text": "x" * 10_000}}, "10000"),
        ({"metadata": {"nested": {"a": 1}}}, "objects and arrays"),
        ({"metadata": [1]}, "object"),
    ],
)
def test_invalid_events_are_rejected(
    custify: httpx.Client, fields: dict[str, Any], fragment: str
) -> None:
    custify.post("/people", json={"user_id": "u1"})
    response = custify.post("/event", json=event(user_id="u1") | fields)
    assert response.status_code == 400 and fragment in response.json()["message"]
    assert events(custify) == []


def test_metadata_types_lock_per_event_name(custify: httpx.Client) -> None:
    custify.post("/people", json={"user_id": "u1"})
    custify.post(
        "/event", json=event(name="Paid", user_id="u1", metadata={"amount": 5})
    ).raise_for_status()
    custify.post(
        "/event", json=event(name="Paid", user_id="u1", metadata={"amount": "7.5"})
    ).raise_for_status()
    wrong = custify.post(
        "/event", json=event(name="Paid", user_id="u1", metadata={"amount": "lots"})
    )
    assert wrong.status_code == 400 and "Number" in wrong.json()["message"]
    other_event = custify.post(
        "/event", json=event(name="Noted", user_id="u1", metadata={"amount": "lots"})
    )
    assert other_event.status_code == 202
    assert [e["metadata"]["amount"] for e in events(custify)] == [5, 7.5, "lots"]


def batch(custify: httpx.Client, jobs: list[dict[str, Any]], **options: Any) -> httpx.Response:
    return custify.post("/batch", json={"jobs": jobs, **options})


def person_job(user_id: str) -> dict[str, Any]:
    return {"type": "people", "payload": {"user_id": user_id}}


def test_batch_job_limits(custify: httpx.Client) -> None:
    assert batch(custify, [person_job(f"u{n}") for n in range(100)]).status_code == 202
    too_many = batch(custify, [person_job(f"v{n}") for n in range(101)])
    assert too_many.status_code == 400 and "100" in too_many.json()["message"]
    assert (
        batch(custify, [person_job(f"s{n}") for n in range(3)], synchronous=True).status_code == 202
    )
    assert (
        batch(custify, [person_job(f"t{n}") for n in range(4)], synchronous=True).status_code == 400
    )
    assert batch(custify, []).status_code == 400
    assert custify.get("/__sandbox/state").json()["counts"]["people"] == 103


def test_invalid_job_rejects_the_whole_batch(custify: httpx.Client) -> None:
    response = batch(custify, [person_job("u1"), {"type": "note", "payload": {}}])
    assert response.status_code == 400 and "jobs[1]" in response.json()["message"]
    assert custify.get("/__sandbox/state").json()["people"] == []


def test_jobs_apply_in_order_and_report_each_result(custify: httpx.Client) -> None:
    jobs = [
        {"type": "company", "payload": {"company_id": "c1", "name": "Acme"}},
        {"type": "people", "payload": {"user_id": "u1", "companies": [{"company_id": "c1"}]}},
        {"type": "event", "payload": event(user_id="u1")},
        {"type": "event", "payload": event(user_id="ghost")},
        {"type": "people", "payload": {"user_id": "u2", "custom_attributes": {"bad.key": 1}}},
        {
            "type": "custom-data",
            "payload": {
                "entityModel": "Company",
                "company_id": "c1",
                "data_type": "plan",
                "data_id": "1",
                "data": {"seats": 5},
            },
        },
    ]
    accepted = batch(custify, jobs, returnJobId=True)
    assert accepted.status_code == 202
    summary = accepted.json()
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (6, 4, 2)
    assert "results" not in summary
    status = custify.get(f"/batch/{summary['jobId']}").json()
    results = status["results"]
    assert [r["status"] for r in results] == [
        "succeeded",
        "succeeded",
        "succeeded",
        "failed",
        "failed",
        "succeeded",
    ]
    assert [r["statusCode"] for r in results] == [200, 200, 202, 404, 400, 200]
    assert results[3]["error"] == "People not found"
    state = custify.get("/__sandbox/state").json()
    assert state["people"][0]["companies"] == [state["companies"][0]["id"]]
    assert state["custom_data"][0]["data"] == {"seats": 5}


def test_synchronous_batch_returns_results_and_job_id_only_on_request(
    custify: httpx.Client,
) -> None:
    body = batch(custify, [person_job("u1")], synchronous=True).json()
    assert "jobId" not in body and body["results"][0]["status"] == "succeeded"
    assert batch(
        custify, [person_job("u2")], returnJobId="35757461-c988-5508-9f80-68bd45a99bf9"
    ).json()["jobId"]


def test_job_ids_expire_six_hours_after_the_batch(
    custify: httpx.Client, custify_clock: Clock
) -> None:
    job_id = batch(custify, [person_job("u1")], returnJobId=True).json()["jobId"]
    custify_clock.now += 6 * 3600 - 1
    assert custify.get(f"/batch/{job_id}").status_code == 200
    custify_clock.now += 2
    missing = custify.get(f"/batch/{job_id}")
    assert missing.status_code == 404 and missing.json()["error"]


def test_batch_shuffle_fault_changes_the_order_jobs_apply_in(custify: httpx.Client) -> None:
    custify.post("/people", json={"user_id": "u1"})
    names = [f"e{n:02d}" for n in range(20)]
    jobs = [{"type": "event", "payload": event(name=name, user_id="u1")} for name in names]
    batch(custify, jobs).raise_for_status()
    assert [e["name"] for e in events(custify)] == names
    custify.post("/__sandbox/faults", json={"batch_shuffle": True, "seed": 7}).raise_for_status()
    custify.delete("/people", params={"user_id": "u1"})
    custify.post("/people", json={"user_id": "u1"})
    results = batch(custify, jobs, synchronous=False, returnJobId=True).json()
    applied = [e["name"] for e in events(custify)]
    assert sorted(applied) == names and applied != names
    assert custify.get(f"/batch/{results['jobId']}").json()["results"][0]["index"] == 0


def test_batch_job_errors_fail_chosen_jobs_and_apply_the_rest(custify: httpx.Client) -> None:
    rule = {"field": "email", "value": "bad@x.io", "status": 422, "message": "Invalid email"}
    once = {"field": "user_id", "value": "flaky", "status": 503, "message": "busy", "times": 1}
    assert custify.post("/__sandbox/faults", json={"batch_job_errors": [rule, once]}).is_success
    jobs = [
        person_job("u1"),
        {"type": "people", "payload": {"user_id": "u2", "email": "bad@x.io"}},
        person_job("flaky"),
    ]

    first = batch(custify, jobs, returnJobId=True).json()
    again = batch(custify, jobs[1:], returnJobId=True).json()

    results = custify.get(f"/batch/{first['jobId']}").json()["results"]
    assert [(r["status"], r["statusCode"], r.get("error")) for r in results] == [
        ("succeeded", 200, None),
        ("failed", 422, "Invalid email"),
        ("failed", 503, "busy"),
    ]
    retried = custify.get(f"/batch/{again['jobId']}").json()["results"]
    assert [r["status"] for r in retried] == ["failed", "succeeded"]  # "times" ran out
    people = custify.get("/__sandbox/state").json()["people"]
    assert sorted(p["user_id"] for p in people) == ["flaky", "u1"]
    assert custify.get("/__sandbox/faults").json()["injected"] == 3
