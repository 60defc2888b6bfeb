"""Custify sandbox: the read-only resources filled through POST /__sandbox/seed (meetings, surveys
and responses, health scores, calculated metrics, segments, lifecycles, playbooks, objectives):
envelopes, pagination, sorting, type spellings and not-found answers, over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest
from custify_helpers import company, error, ok, person, seed, sorting, walk


def test_seed_fills_defaults_and_is_all_or_nothing(custify: httpx.Client) -> None:
    stored = seed(
        custify,
        health_scores=[{"name": "Usage", "created_at": "2024-01-01T00:00:00Z"}],
        lifecycles=[{"name": "Onboarding"}, {"name": "Renewal"}],
    )
    usage = stored["health_scores"][0]
    assert usage["created_at"] == "2024-01-01T00:00:00.000Z" and len(usage["id"]) == 24
    assert usage["tags"] == [] and usage["updated_at"] > usage["created_at"]
    assert [lc["position"] for lc in stored["lifecycles"]] == [1, 2]
    assert "cannot seed" in error(custify.post("/__sandbox/seed", json={"people": []}), 400)
    bad = {"segments": [{"name": "ok"}], "surveys": [{"name": "no type"}]}
    assert "type" in error(custify.post("/__sandbox/seed", json=bad), 400)
    orphan = {"survey_responses": [{"survey": "a" * 24, "score": 3}]}
    assert "survey" in error(custify.post("/__sandbox/seed", json=orphan), 400)
    bad_date = {"segments": [{"name": "x", "created_at": "yesterday"}]}
    assert "created_at" in error(custify.post("/__sandbox/seed", json=bad_date), 400)
    assert ok(custify.get("/segment"))["total"] == 0


@pytest.mark.parametrize(
    ("path", "collection", "most"),
    [
        ("/health_score", "health_scores", 50),
        ("/calculated_metric", "calculated_metrics", 50),
        ("/segment", "segments", 50),
        ("/lifecycle", "lifecycles", 200),
        ("/playbook", "playbooks", 200),
    ],
)
def test_definitions_list_page_and_get(
    custify: httpx.Client, path: str, collection: str, most: int
) -> None:
    records = [
        {
            "name": f"{collection} {n:03d}",
            "created_at": f"2024-01-01T00:{n // 60:02d}:{n % 60:02d}Z",
        }
        for n in range(most + 5)
    ]
    stored = seed(custify, **{collection: records})[collection]
    listed = walk(custify, path, collection, 30)
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in stored)
    clamped = ok(custify.get(path, params={"itemsPerPage": 1000}))
    assert len(clamped[collection]) == most and clamped["total"] == most + 5
    newest = ok(custify.get(path, params={"sorting": sorting("created_at"), "itemsPerPage": 1}))
    assert newest[collection][0]["id"] == stored[-1]["id"]
    assert ok(custify.get(f"{path}/{stored[3]['id']}")) == stored[3]
    assert custify.get(f"{path}/{'f' * 24}").status_code == 404


def test_default_orders_and_types(custify: httpx.Client) -> None:
    seed(
        custify,
        segments=[
            {"name": "people seg"},
            {"name": "company seg", "type": "companies"},
        ],
        calculated_metrics=[
            {"name": "company metric"},
            {"name": "people metric", "type": "people"},
        ],
        playbooks=[
            {"name": "second", "position": 2},
            {"name": "first", "position": 1},
            {"name": "people", "type": "people"},
        ],
        lifecycles=[{"name": "late", "position": 9}, {"name": "early", "position": 1}],
        health_scores=[{"name": "Usage"}],
    )
    assert [s["name"] for s in ok(custify.get("/segment"))["segments"]] == ["people seg"]
    for spelling in ("company", "companies"):
        segments = ok(custify.get("/segment", params={"type": spelling}))["segments"]
        assert [(s["name"], s["type"]) for s in segments] == [("company seg", "company")]
    metrics = ok(custify.get("/calculated_metric"))["calculated_metrics"]
    assert [m["name"] for m in metrics] == ["company metric"]
    playbooks = ok(custify.get("/playbook"))["playbooks"]
    assert [(p["name"], p["type"]) for p in playbooks] == [
        ("first", "companies"),
        ("second", "companies"),
    ]
    assert playbooks[0]["company_counts"]["in_progress"] == 0
    without = ok(custify.get("/playbook", params={"type": "people", "includeCounts": "false"}))
    assert [p["name"] for p in without["playbooks"]] == ["people"]
    assert "company_counts" not in without["playbooks"][0]
    assert [lc["name"] for lc in ok(custify.get("/lifecycle"))["lifecycles"]] == ["early", "late"]
    assert "type" in error(custify.get("/segment", params={"type": "deals"}), 400)
    simple = ok(custify.get("/health_score/simple"))
    assert isinstance(simple, list) and [h["name"] for h in simple] == ["Usage"]


def test_meetings_by_your_ids_and_by_entity(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    ann = person(custify, "ann", email="ann@x.com")
    stored = seed(
        custify,
        meetings=[
            {"title": "Kickoff", "startAt": "2024-03-01T10:00:00Z", "company": [acme["id"]]},
            {
                "title": "QBR",
                "startAt": "2024-06-01T10:00:00Z",
                "company": [acme["id"]],
                "people": [ann["id"]],
            },
            {"title": "Other", "startAt": "2024-05-01T10:00:00Z"},
        ],
    )["meetings"]
    listed = ok(custify.get("/calendar/meeting"))
    assert [m["title"] for m in listed["meetings"]] == ["QBR", "Other", "Kickoff"] and listed[
        "total"
    ] == 3
    by_company = ok(custify.get("/calendar/meeting", params={"company_id": "acme"}))
    assert by_company["total"] == 2
    assert ok(custify.get("/calendar/meeting", params={"email": "ann@x.com"}))["meetings"] == [
        stored[1]
    ]
    assert ok(custify.get("/calendar/meeting", params={"user_id": "ghost"})) == {
        "meetings": [],
        "total": 0,
    }
    assert ok(custify.get(f"/calendar/meeting/company/{acme['id']}"))["total"] == 2
    assert ok(custify.get(f"/calendar/meeting/people/{ann['id']}"))["meetings"] == [stored[1]]
    assert "entityType" in error(custify.get(f"/calendar/meeting/deal/{acme['id']}"), 400)
    assert len(walk(custify, "/calendar/meeting", "meetings", 2)) == 3


def test_surveys_are_a_bare_array_and_responses_newest_first(custify: httpx.Client) -> None:
    stored = seed(
        custify,
        surveys=[{"name": f"Survey {n}", "type": "nps" if n % 2 else "csat"} for n in range(7)],
    )["surveys"]
    first_page = ok(custify.get("/survey", params={"itemsPerPage": 5}))
    assert isinstance(first_page, list) and len(first_page) == 5
    second_page = ok(custify.get("/survey", params={"itemsPerPage": 5, "page": 2}))
    assert {s["id"] for s in first_page + second_page} == {s["id"] for s in stored}
    assert first_page[0]["id"] == stored[-1]["id"]
    survey = stored[1]["id"]
    seed(
        custify,
        survey_responses=[
            {"survey": survey, "score": 9, "responseDate": "2024-01-01"},
            {"survey": survey, "score": 3, "responseDate": "2024-02-01"},
            {"survey": stored[3]["id"], "score": 5},
        ],
    )
    responses = ok(custify.get(f"/survey/{survey}/responses"))
    assert [r["score"] for r in responses["responses"]] == [3, 9]
    assert (responses["total"], responses["page"], responses["itemsPerPage"]) == (2, 1, 20)
    assert error(custify.get(f"/survey/{'c' * 24}/responses"), 404) == "Survey not found"


def test_objectives_need_a_company(custify: httpx.Client) -> None:
    acme, beta = company(custify, "acme"), company(custify, "beta")
    seed(
        custify,
        objectives=[
            {"name": "Adopt", "company_id": "acme", "risk": "low"},
            {
                "name": "Expand",
                "company": acme["id"],
                "risk": "high",
                "objectiveStatus": "in_progress",
            },
            {"name": "Other", "company": beta["id"]},
        ],
    )
    listed = ok(custify.get("/objective", params={"company_id": "acme"}))
    assert [o["name"] for o in listed["objectives"]] == ["Expand", "Adopt"]
    assert (listed["total"], listed["page"], listed["itemsPerPage"]) == (2, 1, 20)
    by_sort = ok(
        custify.get("/objective", params={"company": acme["id"], "sort": "name", "order": "asc"})
    )
    assert [o["name"] for o in by_sort["objectives"]] == ["Adopt", "Expand"]
    status = [{"field": "objectiveStatus", "values": ["in_progress"]}]
    filtered = ok(
        custify.get("/objective", params={"company_id": "acme", "filters": json.dumps(status)})
    )
    assert [o["name"] for o in filtered["objectives"]] == ["Expand"]
    assert "company" in error(custify.get("/objective"), 400)
    assert (
        error(custify.get("/objective", params={"company_id": "ghost"}), 404) == "Company not found"
    )
    no_company = {"objectives": [{"name": "x"}]}
    assert "company" in error(custify.post("/__sandbox/seed", json=no_company), 400)
