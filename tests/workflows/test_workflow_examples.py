"""The four example workflows of examples/workflows (Konnectify's "popular automations"), each
loaded as shipped and run end to end against the Custify sandbox: poll, run, and what Custify
holds afterwards."""

from __future__ import annotations

import os
from pathlib import Path

from workflows_support import API_KEY, EXAMPLES, Kit, poll_and_run

from csroute.config import Config, load
from csroute.store.base import Store
from csroute.store.open import open_store


def example(name: str, kit: Kit, tmp_path: Path, **env: str) -> Config:
    values = {
        **os.environ,
        "CUSTIFY_API_KEY": API_KEY,
        "CUSTIFY_BASE_URL": kit.url,
        "CSROUTE_DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    return load(EXAMPLES / f"{name}.yaml", values)


async def opened(config: Config) -> Store:
    return await open_store(config.store, config.data_dir)


async def test_ticket_follow_up(kit: Kit, tmp_path: Path) -> None:
    config = example("ticket-follow-up", kit, tmp_path)
    company = kit.ok(kit.http.post("/company", json={"company_id": "acme"}))["id"]
    store = await opened(config)
    try:
        assert await poll_and_run(config, store, "new-tickets") == []  # starts from now
        ticket = {"externalId": "Z-1", "title": "Printer on fire", "company": "acme"}
        kit.ok(kit.http.post("/ticket", json=ticket))
        kit.ok(kit.http.post("/ticket", json={"externalId": "Z-2", "title": "No company"}))
        runs = await poll_and_run(config, store, "new-tickets")
    finally:
        await store.close()

    assert [r.state for r in runs] == ["succeeded", "skipped"]  # Z-2 has no company
    (task,) = kit.state.tasks.values()
    assert task["name"] == "Follow up: Printer on fire"
    assert (task["priority"], task["status"], task["company"]) == ("high", "open", company)
    (note,) = kit.state.notes.values()
    assert note["text"] == f"Follow-up task {task['id']} opened for ticket Z-1."
    assert (note["entity"], note["entityModel"]) == (company, "Company")
    steps = runs[0].steps
    assert [(s.name, s.state, s.attempts) for s in steps] == [
        ("task", "succeeded", 1),
        ("note", "succeeded", 1),
    ]


async def test_standardise_tags(kit: Kit, tmp_path: Path) -> None:
    tag = kit.ok(kit.http.post("/tag", json={"name": "customer", "category": "people"}))["id"]
    config = example("standardise-tags", kit, tmp_path, CUSTIFY_STANDARD_TAG=tag)
    person = kit.ok(kit.http.post("/people", json={"user_id": "u1", "email": "u1@x.io"}))["id"]
    store = await opened(config)
    try:
        assert await poll_and_run(config, store, "people-updated") == []
        kit.ok(kit.http.post("/people", json={"user_id": "u1", "name": "Ada"}))
        tagged = await poll_and_run(config, store, "people-updated")
        settled = await poll_and_run(config, store, "people-updated")  # tagging updated them
        quiet = await poll_and_run(config, store, "people-updated")
    finally:
        await store.close()

    assert [r.state for r in tagged] == ["succeeded"]
    assert kit.state.people[person]["tags"] == [tag]
    assert [r.state for r in settled] == ["skipped"]  # already tagged: nothing to do
    assert quiet == []
    assert len(kit.requests("POST", "/people/tag")) == 1


async def test_company_sync(kit: Kit, tmp_path: Path) -> None:
    config = example("company-sync", kit, tmp_path)
    store = await opened(config)
    try:
        assert await poll_and_run(config, store, "new-people") == []
        attributes = {"company_id": "globex", "company_name": "Globex"}
        person = {"user_id": "u7", "email": "u7@globex.com", "custom_attributes": attributes}
        made = kit.ok(kit.http.post("/people", json=person))["id"]
        kit.ok(kit.http.post("/people", json={"user_id": "u8"}))  # names no company
        runs = await poll_and_run(config, store, "new-people")
    finally:
        await store.close()

    assert [r.state for r in runs] == ["succeeded", "skipped"]
    (company,) = [c for c in kit.state.companies.values() if c["company_id"] == "globex"]
    assert company["name"] == "Globex"
    assert kit.state.people[made]["companies"] == [company["id"]]
    assert len(kit.state.people) == 2  # the upsert updated the new person, created nobody


async def test_publish_files(kit: Kit, tmp_path: Path) -> None:
    config = example("publish-files", kit, tmp_path)
    company = kit.ok(kit.http.post("/company", json={"company_id": "acme"}))["id"]
    store = await opened(config)
    try:
        assert await poll_and_run(config, store, "new-files") == []
        upload = {"file": ("deck.pdf", b"%PDF-1.4", "application/pdf")}
        file = kit.ok(kit.http.post("/file", files=upload, data={"companyId": company}))["id"]
        runs = await poll_and_run(config, store, "new-files")
    finally:
        await store.close()

    assert [r.state for r in runs] == ["succeeded"]
    assert kit.state.collection("files")[file]["showInPortal"] is True
