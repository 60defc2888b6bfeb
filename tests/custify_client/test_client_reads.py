"""The actions around the 49 (listings, gets, batches, custom data objects, the read-only
resources) through the async client, the sync client and the CLI, so that every row of the
action table is exercised against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from custify_client_support import Runner
from test_client_actions import SCENARIOS as CONNECTOR_SCENARIOS

from csroute.custify.client import Custify, CustifyError
from csroute.custify.client.actions import ACTIONS

Scenario = Callable[[Runner, Custify, str, Path], None]
SCENARIOS: dict[str, Scenario] = {}
NOW = "2024-05-30T12:00:00.000Z"


def scenario(*keys: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        for key in keys:
            SCENARIOS[key] = function
        return function

    return register


def test_every_action_of_the_table_has_a_scenario() -> None:
    covered = set(SCENARIOS) | set(CONNECTOR_SCENARIOS)
    assert sorted(a.key for a in ACTIONS if a.key not in covered) == []


def ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["id"] for r in records)


@scenario("people.list")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    made = [api.people.upsert(user_id=f"u{i}") for i in range(5)]
    assert ids(run("people.list", per_page=2)) == ids(made)


@scenario("companies.list", "companies.people")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = api.companies.upsert(company_id="c1")
    api.companies.upsert(company_id="c2")
    people = [api.people.upsert(user_id=f"u{i}", companies=[{"company_id": "c1"}])
              for i in range(3)]  # fmt: skip
    api.people.upsert(user_id="outsider")
    assert len(run("companies.list", per_page=1)) == 2
    assert ids(run("companies.people", id=company["id"], per_page=2)) == ids(people)


@scenario("batch.submit", "batch.status")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    jobs = [{"type": "people", "payload": {"user_id": "u1"}},
            {"type": "company", "payload": {"company_id": "c1"}}]  # fmt: skip
    submitted = run("batch.submit", jobs=jobs)
    status = run("batch.status", job_id=submitted["jobId"])
    assert (status["status"], status["succeeded"]) == ("completed", 2)
    assert api.people.get(user_id="u1") and api.companies.get(company_id="c1")
    with pytest.raises(CustifyError, match="not found"):
        run("batch.status", job_id="35757461-c988-5508-9f80-68bd45a99bf9")


@scenario("notes.list", "comments.list")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = api.companies.upsert(company_id="c1")["id"]
    person = api.people.upsert(user_id="u1")["id"]
    on_company = [api.notes.create(text=f"n{i}", entity=company, entityModel="Company")
                  for i in range(3)]  # fmt: skip
    api.notes.create(text="other", entity=person, entityModel="Customer")
    assert ids(run("notes.list", entity=company, per_page=2)) == ids(on_company)
    assert len(run("notes.list")) == 4
    comments = [api.comments.create("Note", on_company[0]["id"], text=f"c{i}") for i in range(3)]
    listed = run("comments.list", entity_model="Note", entity=on_company[0]["id"], per_page=2)
    assert sorted(c["text"] for c in listed) == sorted(c["text"] for c in comments)


@scenario("tags.get", "tags.list")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    tags = [api.tags.create(name=f"t{i}", category="company") for i in range(3)]
    api.tags.create(name="p", category="people")
    assert run("tags.get", id=tags[0]["id"])["name"] == "t0"
    assert ids(run("tags.list", per_page=2, category="company")) == ids(tags)


@scenario("tickets.list")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = api.companies.upsert(company_id="c1")
    api.companies.upsert(company_id="c2")
    mine = [api.tickets.create(externalId=f"T-{i}", title="t", company="c1") for i in range(3)]
    api.tickets.create(externalId="T-9", title="t", company="c2")
    assert len(run("tickets.list", per_page=3)) == 4
    listed = run("tickets.list", entity=company["id"])
    assert sorted(t["externalId"] for t in listed) == sorted(t["externalId"] for t in mine)


@scenario("tasks.get", "tasks.list")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    tasks = [api.tasks.create(name=f"t{i}", priority="low", status="open", externalId=f"x{i}")
             for i in range(3)]  # fmt: skip
    assert run("tasks.get", id=tasks[1]["id"])["name"] == "t1"
    assert run("tasks.get", external_id="x2")["id"] == tasks[2]["id"]
    assert ids(run("tasks.list", per_page=2)) == ids(tasks)


@scenario("files.list")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = api.companies.upsert(company_id="c1")["id"]
    person = api.people.upsert(user_id="u1")["id"]
    files = [api.files.upload(f"{i}".encode(), filename=f"f{i}.txt", company_id=company)
             for i in range(3)]  # fmt: skip
    api.files.upload(b"p", filename="p.txt", people_id=person)
    assert ids(run("files.list", company_id=company, per_page=2)) == ids(files)
    assert [f["name"] for f in run("files.list", people_id=person)] == ["p.txt"]


def _financial_reads(resource: str) -> None:
    @scenario(f"{resource}.get", f"{resource}.list")
    def reads(run: Runner, api: Custify, url: str, tmp: Path) -> None:
        api.companies.upsert(company_id="c1")
        group = getattr(api, resource)
        made = [group.create(externalId=f"F-{i}", company_id="c1") for i in range(3)]
        assert run(f"{resource}.get", entity=made[1]["id"])["id"] == made[1]["id"]
        assert ids(run(f"{resource}.list", per_page=2)) == ids(made)


for _resource in ("deals", "invoices", "subscriptions"):
    _financial_reads(_resource)


@scenario("time-tracks.list")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    api.companies.upsert(company_id="c1")
    body = {"name": "call", "duration": 60, "startedDate": NOW}
    made = [api.time_tracks.create(body, user="csm@example.com", owner={"company_id": "c1"})
            for _ in range(3)]  # fmt: skip
    assert ids(run("time-tracks.list", per_page=2)) == ids(made)


@scenario("custom-data.upsert", "custom-data.get", "custom-data.delete")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = api.companies.upsert(company_id="c1")["id"]
    order = {"data_type": "order", "data_id": "o1", "data": {"total": 5}}
    run("custom-data.upsert", order, entity_model="companies", company_id="c1")
    run("custom-data.upsert", {**order, "data": {"total": 7}}, entity_model="companies",
        entity=company)  # fmt: skip
    got = run("custom-data.get", entity_model="companies", company_id="c1", data_type="order")
    assert [o["data"] for o in got["order"]] == [{"total": 7}]
    run("custom-data.delete", entity_model="companies", company_id="c1", data_type="order",
        data_id="o1")  # fmt: skip
    assert run("custom-data.get", entity_model="companies", entity=company) == {}


def seed(url: str, collection: str, records: list[dict[str, Any]]) -> None:
    httpx.post(f"{url}/__sandbox/seed", json={collection: records}).raise_for_status()


def _definitions(resource: str, collection: str, fields: dict[str, Any]) -> None:
    @scenario(f"{resource}.list", f"{resource}.get")
    def reads(run: Runner, api: Custify, url: str, tmp: Path) -> None:
        seed(url, collection, [{"name": f"d{i}", **fields} for i in range(3)])
        listed = run(f"{resource}.list", per_page=2, **fields)
        assert sorted(r["name"] for r in listed) == ["d0", "d1", "d2"]
        assert run(f"{resource}.get", id=listed[0]["id"])["name"] == listed[0]["name"]


_definitions("health-scores", "health_scores", {})
_definitions("calculated-metrics", "calculated_metrics", {"type": "people"})
_definitions("segments", "segments", {"type": "company"})
_definitions("lifecycles", "lifecycles", {})
_definitions("playbooks", "playbooks", {"type": "people"})


@scenario("meetings.list")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = api.companies.upsert(company_id="c1")["id"]
    seed(url, "meetings", [{"title": "QBR", "company": [company]}, {"title": "Kick-off"}])
    assert sorted(m["title"] for m in run("meetings.list", per_page=1)) == ["Kick-off", "QBR"]
    listed = run("meetings.list", entity_type="company", entity_id=company)
    assert [m["title"] for m in listed] == ["QBR"]


@scenario("surveys.list", "surveys.responses")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    seed(url, "surveys", [{"name": "Q2", "type": "csat"}, {"name": "Q3", "type": "nps"}])
    surveys = run("surveys.list", per_page=1)
    assert sorted(s["name"] for s in surveys) == ["Q2", "Q3"]
    csat = next(s["id"] for s in surveys if s["name"] == "Q2")
    for i in range(3):
        api.people.upsert(user_id=f"u{i}")
        api.scores.csat(i + 1, user_id=f"u{i}", survey_id=csat)
    responses = run("surveys.responses", id=csat, per_page=2)
    assert sorted(r["score"] for r in responses) == [1, 2, 3]


@scenario("objectives.list")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = api.companies.upsert(company_id="c1")["id"]
    other = api.companies.upsert(company_id="c2")["id"]
    seed(url, "objectives", [{"name": f"o{i}", "company": company} for i in range(3)]
         + [{"name": "x", "company": other}])  # fmt: skip
    assert len(run("objectives.list", company_id="c1", per_page=2)) == 3
    assert len(run("objectives.list", company=other)) == 1


# Last, so that every scenario above is registered when the parameters are collected.
@pytest.mark.parametrize("key", sorted(SCENARIOS))
def test_action(key: str, run: Runner, api: Custify, url: str, tmp_path: Path) -> None:
    SCENARIOS[key](run, api, url, tmp_path)
