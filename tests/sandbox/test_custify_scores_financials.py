"""Custify sandbox: NPS and CSAT scores (identifiers, ranges, newest kept, company means, surveys)
and financial deals, invoices and subscriptions (externalId upserts, the bare-object envelope,
deletes), over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from custify_helpers import company, error, ok, person, seed, walk


def test_nps_by_every_identifier_and_the_newest_is_kept(custify: httpx.Client) -> None:
    ann = person(custify, "ann", email="ann@x.com")
    by_id = ok(
        custify.post(f"/nps_score/{ann['id']}", json={"score": 9, "submittedAt": "2024-02-01"})
    )
    assert (by_id["people"], by_id["score"], by_id["kept"]) == (ann["id"], 9, True)
    older = ok(
        custify.post(
            "/nps_score",
            params={"email": "ann@x.com"},
            json={"score": 2, "submittedAt": "2024-01-01"},
        )
    )
    assert (older["kept"], older["score"]) == (False, 9)
    newer = ok(
        custify.post("/nps_score", params={"user_id": "ann"}, json={"score": 4, "comment": "meh"})
    )
    assert (newer["kept"], newer["score"], newer["comment"]) == (True, 4, "meh")
    assert newer["submittedAt"] > "2024-02-01"
    scores = ok(custify.get("/__sandbox/state"))["scores"]
    assert [(s["type"], s["score"]) for s in scores] == [("nps", 4)]


@pytest.mark.parametrize(("kind", "low", "high"), [("nps", 0, 10), ("csat", 1, 5)])
def test_score_ranges_and_required_fields(
    custify: httpx.Client, kind: str, low: int, high: int
) -> None:
    ann = person(custify, "ann")
    path = f"/{kind}_score/{ann['id']}"
    assert ok(custify.post(path, json={"score": low}))["score"] == low
    assert ok(custify.post(path, json={"score": high}))["score"] == high
    for wrong in (low - 1, high + 1, 5.5, "x"):
        assert "score" in error(custify.post(path, json={"score": wrong}), 400)
    assert "score" in error(custify.post(path, json={}), 400)
    assert "user_id" in error(custify.post(f"/{kind}_score", json={"score": low}), 400)
    unknown = custify.post(f"/{kind}_score", params={"user_id": "nobody"}, json={"score": low})
    assert error(unknown, 404) == "People not found"


def test_companies_get_the_rounded_mean_and_surveys_get_responses(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    for user_id, score in (("a", 3), ("b", 4)):
        person(custify, user_id, companies=[{"company_id": "acme"}])
        result = ok(custify.post("/csat_score", params={"user_id": user_id}, json={"score": score}))
    assert result["companies"] == [{"id": acme["id"], "score": 4}]  # 3.5 rounds up
    survey = seed(custify, surveys=[{"name": "Q2 NPS", "type": "nps"}])["surveys"][0]
    ok(
        custify.post(
            "/nps_score", params={"user_id": "a", "surveyId": survey["id"]}, json={"score": 10}
        )
    )
    responses = ok(custify.get(f"/survey/{survey['id']}/responses"))
    assert responses["total"] == 1 and responses["responses"][0]["score"] == 10
    wrong_kind = custify.post(
        "/csat_score", params={"user_id": "a"}, json={"score": 1, "surveyId": survey["id"]}
    )
    assert "survey" in error(wrong_kind, 400)
    missing = custify.post(
        "/nps_score", params={"user_id": "a", "surveyId": "c" * 24}, json={"score": 1}
    )
    assert error(missing, 404) == "Survey not found"


def deal(api: httpx.Client, external_id: str, expect: int = 200, **fields: Any) -> Any:
    return ok(api.post("/financial/deal", json={"externalId": external_id, **fields}), expect)


def test_upsert_by_external_id_and_update_by_internal_id(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    created = deal(custify, "D-1", name="Renewal", value=1200, status="pending", company_id="acme")
    assert created["externalIds"] == {"custify": "D-1"} and "externalId" not in created
    assert (created["company"], created["value"], created["metadata"]) == (acme["id"], 1200, {})
    again = deal(custify, "D-1", status="won", wonAt="2024-03-01")
    assert (again["id"], again["name"], again["status"]) == (created["id"], "Renewal", "won")
    assert again["wonAt"] == "2024-03-01T00:00:00.000Z"
    by_id = ok(
        custify.post(f"/financial/deal/{created['id']}", json={"externalId": "D-1", "value": 9})
    )
    assert (by_id["id"], by_id["value"]) == (created["id"], 9)
    without_external_id = ok(custify.post(f"/financial/deal/{created['id']}", json={"value": 10}))
    assert (without_external_id["value"], without_external_id["externalIds"]) == (
        10,
        {"custify": "D-1"},
    )
    renamed = ok(custify.post(f"/financial/deal/{created['id']}", json={"externalId": "D-2"}))
    assert renamed["externalIds"] == {"custify": "D-2"}
    assert ok(custify.get("/financial/deal", params={"externalId": "D-1"})) == {
        "deals": [],
        "total": 0,
    }
    deal(custify, "D-3")
    taken = custify.post(f"/financial/deal/{created['id']}", json={"externalId": "D-3"})
    assert "D-3" in error(taken, 400)
    assert "externalId" in error(custify.post("/financial/deal", json={"name": "x"}), 400)
    assert "value" in error(
        custify.post("/financial/deal", json={"externalId": "x", "value": "lots"}), 400
    )
    assert (
        error(custify.post(f"/financial/deal/{'a' * 24}", json={"externalId": "x"}), 404)
        == "Deal not found"
    )
    assert deal(custify, "x", 404, company_id="nope")["message"] == "Company not found"
    assert custify.post("/financial/loan", json={"externalId": "x"}).status_code == 404


def test_one_match_is_a_bare_object_otherwise_a_wrapper(custify: httpx.Client) -> None:
    company(custify, "acme")
    person(custify, "ann")
    only = ok(
        custify.post(
            "/financial/invoice", json={"externalId": "I-1", "total": 99.5, "company_id": "acme"}
        )
    )
    assert ok(custify.get("/financial/invoice")) == only
    assert ok(custify.get(f"/financial/invoice/{only['id']}")) == only
    assert ok(custify.get(f"/financial/invoice/{'b' * 24}")) == {"invoices": [], "total": 0}
    acme_id = only["company"]
    assert ok(custify.get(f"/financial/invoice/{acme_id}")) == only  # an owner's records
    ok(
        custify.post(
            "/financial/invoice", json={"externalId": "I-2", "user_id": "ann", "status": "unpaid"}
        )
    )
    both = ok(custify.get("/financial/invoice"))
    assert both["total"] == 2 and [i["externalIds"]["custify"] for i in both["invoices"]] == [
        "I-2",
        "I-1",
    ]
    assert ok(custify.get("/financial/invoice", params={"company_id": "acme"})) == only
    ok(custify.post("/financial/invoice", json={"externalId": "I-3", "company_id": "acme"}))
    assert ok(custify.get(f"/financial/invoice/{acme_id}"))["total"] == 2
    assert ok(custify.get("/financial/invoice", params={"company_id": "ghost"})) == {
        "invoices": [],
        "total": 0,
    }
    assert ok(custify.get("/financial/invoice", params={"user_id": "ann"}))["status"] == "unpaid"
    oldest = ok(
        custify.get(
            "/financial/invoice", params={"sort": "created_at", "order": "asc", "itemsPerPage": 2}
        )
    )
    assert [i["externalIds"]["custify"] for i in oldest["invoices"]] == ["I-1", "I-2"]


def test_subscription_fields_pages_and_deletes(custify: httpx.Client) -> None:
    company(custify, "acme")
    for n in range(12):
        body = {
            "externalId": f"S-{n:02d}",
            "company_id": "acme",
            "plan": "Pro",
            "mrr": 100 + n,
            "billingPeriod": 1,
            "billingPeriodUnit": "month",
            "nextBillingAt": "2024-07-01T00:00:00Z",
            "metadata": {"seats": n},
        }
        ok(custify.post("/financial/subscription", json=body))
    listed = walk(custify, "/financial/subscription", "subscriptions", 5)
    assert [s["externalIds"]["custify"] for s in listed] == [
        f"S-{n:02d}" for n in reversed(range(12))
    ]
    assert (
        listed[0]["metadata"] == {"seats": 11}
        and listed[0]["nextBillingAt"] == "2024-07-01T00:00:00.000Z"
    )
    assert "billingPeriod" in error(
        custify.post("/financial/subscription", json={"externalId": "S-x", "billingPeriod": -1}),
        400,
    )
    ok(custify.delete("/financial/subscription", params={"externalId": "S-00"}))
    assert error(custify.delete("/financial/subscription", params={"externalId": "S-00"}), 404) == (
        "Subscription not found"
    )
    assert "externalId" in error(custify.delete("/financial/subscription"), 400)
    ok(custify.delete(f"/financial/subscription/{listed[0]['id']}"))
    assert custify.delete(f"/financial/subscription/{listed[0]['id']}").status_code == 404
    assert ok(custify.get("/financial/subscription"))["total"] == 10
