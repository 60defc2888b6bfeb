"""Each of the 49 connector actions (docs/custify-client.md) against the sandbox, through the async
client, the sync client and the CLI. One scenario per action arranges records with ``api``,
performs the action with ``run``, and checks the sandbox's resulting state with ``api``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from custify_client_support import Runner, sandbox_requests

from csroute.custify.client import Custify, CustifyError
from csroute.custify.client.actions import CONNECTOR_ACTIONS

Scenario = Callable[[Runner, Custify, str, Path], None]
SCENARIOS: dict[str, Scenario] = {}
NOW = "2024-05-30T12:00:00.000Z"


def scenario(key: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[key] = function
        return function

    return register


def test_every_connector_action_has_a_scenario() -> None:
    assert len(CONNECTOR_ACTIONS) == 49
    assert sorted(SCENARIOS) == sorted(action.key for action in CONNECTOR_ACTIONS)


@pytest.mark.parametrize("key", [action.key for action in CONNECTOR_ACTIONS])
def test_action(key: str, run: Runner, api: Custify, url: str, tmp_path: Path) -> None:
    SCENARIOS[key](run, api, url, tmp_path)


def last_request(url: str) -> dict[str, Any]:
    return sandbox_requests(url)[-1]


# People


@scenario("people.create")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    created = run("people.create", {"user_id": "u1", "email": "ada@example.com", "name": "Ada"})
    assert api.people.get(user_id="u1") == created
    with pytest.raises(CustifyError, match="already exists"):
        run("people.create", {"email": "ada@example.com"})
    assert len(list(api.people.list())) == 1


@scenario("people.update")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    person = api.people.upsert(user_id="u1", email="ada@example.com")
    run("people.update", {"email": "ada@example.com", "name": "Ada L."})
    assert api.people.get(person["id"])["name"] == "Ada L."
    with pytest.raises(CustifyError, match="no person matches"):
        run("people.update", {"user_id": "nobody", "name": "X"})
    assert len(list(api.people.list())) == 1


@scenario("people.upsert")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    first = run("people.upsert", {"user_id": "u1", "custom_attributes": {"plan": "pro"}})
    second = run("people.upsert", {"user_id": "u1", "name": "Ada"})
    assert first["id"] == second["id"]
    assert api.people.get(first["id"])["custom_attributes"] == {"plan": "pro"}


@scenario("people.get")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    person = api.people.upsert(user_id="u1", email="ada@example.com")
    assert run("people.get", id=person["id"])["id"] == person["id"]
    assert run("people.get", user_id="u1")["id"] == person["id"]
    assert run("people.get", email="ada@example.com")["id"] == person["id"]
    with pytest.raises(CustifyError, match="not found"):
        run("people.get", user_id="nobody")


@scenario("people.delete")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    kept = api.people.upsert(user_id="u2")
    for given in ({"user_id": "u1"}, {"email": "ada@example.com"}):
        person = api.people.upsert(user_id="u1", email="ada@example.com")
        run("people.delete", **given)
        with pytest.raises(CustifyError):
            api.people.get(person["id"])
    person = api.people.upsert(user_id="u1")
    run("people.delete", id=person["id"])
    assert [p["id"] for p in api.people.list()] == [kept["id"]]


@scenario("people.tag")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    person = api.people.upsert(user_id="u1")
    tag = api.tags.create(name="vip", category="people")
    run("people.tag", ids=[person["id"]], tag=tag["id"])
    assert tag["id"] in api.people.get(person["id"])["tags"]
    run("people.tag", ids=[person["id"]], tag=tag["id"], type="remove")
    assert tag["id"] not in api.people.get(person["id"])["tags"]


@scenario("events.insert")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    api.people.upsert(user_id="u1")
    run("events.insert", {"name": "Signed in", "created_at": NOW, "user_id": "u1",
                          "metadata": {"plan": "pro"}})  # fmt: skip
    assert last_request(url)["status"] == 202
    with pytest.raises(CustifyError, match="People not found"):
        run("events.insert", {"name": "Signed in", "created_at": NOW, "user_id": "nobody"})


# Companies


@scenario("companies.create")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    created = run("companies.create", {"company_id": "c1", "name": "Acme"})
    assert api.companies.get(company_id="c1")["id"] == created["id"]
    with pytest.raises(CustifyError, match="already exists"):
        run("companies.create", {"company_id": "c1"})


@scenario("companies.update")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = api.companies.upsert(company_id="c1")
    run("companies.update", {"company_id": "c1", "plan": "gold"})
    assert api.companies.get(company["id"])["plan"] == "gold"
    with pytest.raises(CustifyError, match="no company matches"):
        run("companies.update", {"company_id": "c2", "plan": "gold"})
    assert len(list(api.companies.list())) == 1


@scenario("companies.upsert")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    first = run("companies.upsert", {"company_id": "c1", "monthly_revenue": 100})
    second = run("companies.upsert", {"company_id": "c1", "name": "Acme"})
    assert first["id"] == second["id"]
    assert api.companies.get(first["id"])["monthly_revenue"] == 100


@scenario("companies.get")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = api.companies.upsert(company_id="c1", name="Acme")
    assert run("companies.get", id=company["id"])["name"] == "Acme"
    assert run("companies.get", company_id="c1")["id"] == company["id"]
    with pytest.raises(CustifyError, match="not found"):
        run("companies.get", company_id="c2")


@scenario("companies.delete")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    first = api.companies.upsert(company_id="c1")
    second = api.companies.upsert(company_id="c2")
    run("companies.delete", company_id="c1")
    run("companies.delete", id=second["id"])
    for company in (first, second):
        with pytest.raises(CustifyError, match="not found"):
            api.companies.get(company["id"])


# Notes


def _company(api: Custify) -> str:
    company_id: str = api.companies.upsert(company_id="c1", name="Acme")["id"]
    return company_id


@scenario("notes.create")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    entity = _company(api)
    note = run("notes.create", {"text": "Kick-off", "entity": entity, "entityModel": "Company"})
    assert [n["id"] for n in api.notes.list(entity)] == [note["id"]]


@scenario("notes.update")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    entity = _company(api)
    note = api.notes.create(text="Kick-off", entity=entity, entityModel="Company")
    run("notes.update", {"text": "Kick-off done"}, id=note["id"])
    assert [n["text"] for n in api.notes.list(entity)] == ["Kick-off done"]


@scenario("notes.upsert")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    entity = _company(api)
    body = {"text": "Kick-off", "entity": entity, "entityModel": "Company"}
    note = run("notes.upsert", body)
    run("notes.upsert", {**body, "text": "Renewal"}, id=note["id"])
    assert [(n["id"], n["text"]) for n in api.notes.list(entity)] == [(note["id"], "Renewal")]


# Tags


@scenario("tags.create")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    tag = run("tags.create", {"name": "vip", "category": "company", "description": "top"})
    assert api.tags.get(tag["id"])["name"] == "vip"


@scenario("tags.update")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    tag = api.tags.create(name="vip", category="company")
    run("tags.update", {"name": "VIP", "category": "company"}, id=tag["id"])
    assert api.tags.get(tag["id"])["name"] == "VIP"


@scenario("tags.upsert")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    tag = run("tags.upsert", {"name": "vip", "category": "company"})
    run("tags.upsert", {"name": "VIP", "category": "company"}, id=tag["id"])
    assert [t["name"] for t in api.tags.list(category="company")] == ["VIP"]


@scenario("tags.delete")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    tag = api.tags.create(name="vip", category="people")
    person = api.people.upsert(user_id="u1")
    api.people.tag([person["id"]], tag["id"])
    run("tags.delete", id=tag["id"])
    with pytest.raises(CustifyError, match="not found"):
        api.tags.get(tag["id"])
    assert api.people.get(person["id"])["tags"] == []


@scenario("tags.entity")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    tag = api.tags.create(name="vip", category="company")
    ids = [api.companies.upsert(company_id=c)["id"] for c in ("c1", "c2")]
    run("tags.entity", ids=ids, tag=tag["id"], category="company", type="add")
    assert all(tag["id"] in api.companies.get(i)["tags"] for i in ids)
    run("tags.entity", ids=ids[:1], tag=tag["id"], category="company", type="remove")
    assert [tag["id"] in api.companies.get(i)["tags"] for i in ids] == [False, True]


# Scores


@scenario("scores.nps")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    person = api.people.upsert(user_id="u1", email="ada@example.com")
    run("scores.nps", score=9, user_id="u1", comment="great")
    run("scores.nps", score=0, email="ada@example.com")
    run("scores.nps", score=10, entity=person["id"], submitted_at=NOW)
    assert [r["status"] for r in sandbox_requests(url)[-3:]] == [200, 200, 200]
    with pytest.raises(CustifyError, match="score"):
        run("scores.nps", score=11, user_id="u1")


@scenario("scores.csat")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    person = api.people.upsert(user_id="u1")
    run("scores.csat", score=5, entity=person["id"])
    run("scores.csat", score=1, user_id="u1")
    assert [r["status"] for r in sandbox_requests(url)[-2:]] == [200, 200]
    with pytest.raises(CustifyError, match="score"):
        run("scores.csat", score=0, user_id="u1")


# Tickets


def _ticket(api: Custify) -> dict[str, Any]:
    api.companies.upsert(company_id="c1")
    return api.tickets.create(externalId="T-1", title="Login broken", company="c1",
                              ticketStatus="open", openedAt=NOW)  # fmt: skip


@scenario("tickets.create")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    api.companies.upsert(company_id="c1")
    run("tickets.create", {"externalId": "T-1", "title": "Login broken", "company": "c1"})
    assert [t["title"] for t in api.tickets.list()] == ["Login broken"]


@scenario("tickets.update")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    _ticket(api)
    run("tickets.update", {"ticketStatus": "solved"}, external_id="T-1")
    [ticket] = api.tickets.list()
    assert (ticket["ticketStatus"], ticket["title"]) == ("solved", "Login broken")


@scenario("tickets.delete")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    _ticket(api)
    run("tickets.delete", external_id="T-1")
    assert list(api.tickets.list()) == []


@scenario("tickets.reply")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    _ticket(api)
    run("tickets.reply", {"body": "Fixed now", "from": "Sam", "type": "outgoing",
                          "submittedAt": NOW}, external_id="T-1")  # fmt: skip
    [ticket] = api.tickets.list()
    assert [r["body"] for r in ticket["replies"]] == ["Fixed now"]


# Tasks


@scenario("tasks.create")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    task = run("tasks.create", {"name": "Call Acme", "priority": "high", "status": "open"})
    assert api.tasks.get(task["id"])["name"] == "Call Acme"


@scenario("tasks.update")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    task = api.tasks.create(name="Call Acme", priority="high", status="open")
    run("tasks.update", {"status": "done"}, id=task["id"])
    updated = api.tasks.get(task["id"])
    assert (updated["status"], updated["name"]) == ("done", "Call Acme")


# Comments


def _note(api: Custify) -> str:
    note_id: str = api.notes.create(text="Kick-off", entity=_company(api), entityModel="Company")[
        "id"
    ]
    return note_id


@scenario("comments.create")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    note = _note(api)
    run("comments.create", {"text": "Agreed"}, entity_model="Note", entity=note)
    assert [c["text"] for c in api.comments.list("Note", note)] == ["Agreed"]


@scenario("comments.update")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    task = api.tasks.create(name="Call Acme", priority="low", status="open")["id"]
    comment = api.comments.create("Task", task, text="Tomorrow")
    run("comments.update", {"text": "Today"}, entity_model="Task", entity=task, id=comment["id"])
    assert [c["text"] for c in api.comments.list("Task", task)] == ["Today"]


@scenario("comments.upsert")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    note = _note(api)
    comment = run("comments.upsert", {"text": "Agreed"}, entity_model="Note", entity=note)
    run("comments.upsert", {"text": "Agreed!"}, entity_model="Note", entity=note,
        id=comment["id"])  # fmt: skip
    assert [c["text"] for c in api.comments.list("Note", note)] == ["Agreed!"]


# Files


def _upload(api: Custify, tmp: Path) -> tuple[str, str]:
    company = _company(api)
    path = tmp / "plan.txt"
    path.write_text("success plan")
    return company, api.files.upload(path, company_id=company)["id"]


@scenario("files.upload")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company = _company(api)
    path = tmp / "plan.txt"
    path.write_text("success plan")
    uploaded = run("files.upload", file=path, company_id=company)
    [listed] = api.files.list(company_id=company)
    assert (listed["id"], listed["name"], listed["size"]) == (uploaded["id"], "plan.txt", 12)


@scenario("files.unlink")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company, file_id = _upload(api, tmp)
    run("files.unlink", file_id=file_id, company_id=company)
    assert list(api.files.list(company_id=company)) == []


@scenario("files.portal")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    company, file_id = _upload(api, tmp)
    run("files.portal", id=file_id, show=True)
    assert [f["showInPortal"] for f in api.files.list(company_id=company)] == [True]
    run("files.portal", id=file_id, show=False)
    assert [f["showInPortal"] for f in api.files.list(company_id=company)] == [False]


# Financials: the same four scenarios for each type


def _financials(resource: str, fields: dict[str, Any]) -> None:
    def listed(api: Custify) -> list[dict[str, Any]]:
        return list(getattr(api, resource).list())

    @scenario(f"{resource}.create")
    def create(run: Runner, api: Custify, url: str, tmp: Path) -> None:
        api.companies.upsert(company_id="c1")
        run(f"{resource}.create", {"externalId": "F-1", "company_id": "c1", **fields})
        [record] = listed(api)
        assert record["externalIds"] == {"custify": "F-1"}

    @scenario(f"{resource}.update")
    def update(run: Runner, api: Custify, url: str, tmp: Path) -> None:
        api.companies.upsert(company_id="c1")
        record = getattr(api, resource).create(externalId="F-1", company_id="c1", **fields)
        by_id = {"externalId": "F-1", "metadata": {"note": "by id"}}
        run(f"{resource}.update", by_id, entity=record["id"])
        assert listed(api)[0]["metadata"] == {"note": "by id"}
        run(f"{resource}.update", {"externalId": "F-1", "metadata": {"note": "by externalId"}})
        [after] = listed(api)
        assert (after["id"], after["metadata"]) == (record["id"], {"note": "by externalId"})

    @scenario(f"{resource}.upsert")
    def upsert(run: Runner, api: Custify, url: str, tmp: Path) -> None:
        api.companies.upsert(company_id="c1")
        record = run(f"{resource}.upsert", {"externalId": "F-1", "company_id": "c1", **fields})
        run(f"{resource}.upsert", {"externalId": "F-1", "metadata": {"v": 2}}, entity=record["id"])
        [after] = listed(api)
        assert (after["id"], after["metadata"]) == (record["id"], {"v": 2})

    @scenario(f"{resource}.delete")
    def delete(run: Runner, api: Custify, url: str, tmp: Path) -> None:
        api.companies.upsert(company_id="c1")
        group = getattr(api, resource)
        first = group.create(externalId="F-1", company_id="c1", **fields)
        group.create(externalId="F-2", company_id="c1", **fields)
        run(f"{resource}.delete", external_id="F-2")
        assert [r["id"] for r in listed(api)] == [first["id"]]
        run(f"{resource}.delete", entity=first["id"])
        assert listed(api) == []


_financials("deals", {"name": "Upsell", "status": "won", "value": 1200})
_financials("invoices", {"status": "unpaid", "total": 300})
_financials("subscriptions", {"plan": "gold", "mrr": 100})


# Time tracks

USER = "csm@example.com"


def _time_track(api: Custify) -> dict[str, Any]:
    return api.time_tracks.create(
        {"name": "Onboarding call", "duration": 1800, "startedDate": NOW},
        user=USER,
        owner={"company_id": "c1"},
    )


@scenario("time-tracks.create")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    _company(api)
    run("time-tracks.create", {"name": "QBR", "duration": 3600, "startedDate": NOW},
        user=USER, owner={"company_id": "c1"})  # fmt: skip
    assert [(t["name"], t["duration"]) for t in api.time_tracks.list()] == [("QBR", 3600)]


@scenario("time-tracks.update")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    _company(api)
    track = _time_track(api)
    run("time-tracks.update", {"duration": 2400}, id=track["id"], user=USER)
    [after] = api.time_tracks.list()
    assert (after["id"], after["duration"], after["name"]) == (track["id"], 2400, "Onboarding call")


@scenario("time-tracks.delete")
def _(run: Runner, api: Custify, url: str, tmp: Path) -> None:
    _company(api)
    run("time-tracks.delete", id=_time_track(api)["id"])
    assert list(api.time_tracks.list()) == []
