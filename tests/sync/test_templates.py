"""Each template against the Custify sandbox, through ``csroute sync``: the records land as
Custify stores them, translated as docs/sync.md's template table says."""

from __future__ import annotations

from pathlib import Path

from sync_support import Sync, state, write


def _people(sync: Sync, tmp_path: Path, *, batch: bool = False) -> None:
    people = write(
        tmp_path / "people.csv",
        "user_id,email,name,signed_up_at,plan,churned_at,seats,vip,company_id\n"
        "u1,ada@example.com,Ada,2024-05-30,pro,2024-06-01 10:00,5,true,c1\n"
        "u2,bob@example.com,Bob,2024-05-31T08:00:00Z,free,,3,false,\n",
    )
    result = sync(people, "--template", "Upsert Person", *(["--batch"] if batch else []))
    assert result.exit_code == 0, result.output


def test_upsert_person_converts_types_and_links_companies(
    sync: Sync, url: str, tmp_path: Path
) -> None:
    company = write(tmp_path / "c.csv", "company_id,name\nc1,Acme\n")
    assert sync(company, "-t", "upsert-company").exit_code == 0
    _people(sync, tmp_path)
    people = {p["user_id"]: p for p in state(url)["people"]}
    assert people["u1"]["email"] == "ada@example.com"
    assert people["u1"]["signed_up_at"].startswith("2024-05-30T00:00:00")
    attrs = people["u1"]["custom_attributes"]
    assert attrs["plan"] == "pro" and attrs["seats"] == 5 and attrs["vip"] is True
    assert attrs["churned_at"].startswith("2024-06-01T10:00:00")
    assert people["u1"]["companies"] == [state(url)["companies"][0]["id"]]
    assert "churned_at" not in people["u2"]["custom_attributes"]


def test_send_batch_request_and_batch_mode_land_the_same_people(
    sync: Sync, url: str, tmp_path: Path
) -> None:
    rows = "".join(f"u{i},p{i}@example.com\n" for i in range(250))
    people = write(tmp_path / "p.csv", "user_id,email\n" + rows)
    result = sync(people, "--template", "Send Batch Request")
    assert result.exit_code == 0, result.output
    assert state(url)["counts"]["people"] == 250
    assert state(url)["counts"]["batches"] == 3  # 100 + 100 + 50
    _people(sync, tmp_path, batch=True)  # u1 and u2 again, now with names: updated
    people = {p["user_id"]: p for p in state(url)["people"]}
    assert len(people) == 250 and people["u1"]["name"] == "Ada"
    assert people["u2"]["custom_attributes"]["seats"] == 3


def test_upsert_company_translates_mrr(sync: Sync, url: str, tmp_path: Path) -> None:
    file = write(
        tmp_path / "c.jsonl",
        '{"company_id": "c1", "name": "Acme", "mrr": "1200", "size": 40, "region": "EU"}\n',
    )
    assert sync(file, "-t", "Upsert Company").exit_code == 0
    (company,) = state(url)["companies"]
    assert company["monthly_revenue"] == 1200 and company["size"] == 40
    assert company["custom_attributes"] == {"region": "EU"}


def test_financial_templates(sync: Sync, url: str, tmp_path: Path) -> None:
    write(tmp_path / "c.csv", "company_id\nc1\n")
    assert sync(tmp_path / "c.csv", "-t", "Upsert Company").exit_code == 0
    files = {
        "Upsert Subscription": "external_id,company_id,plan,mrr,start_date,renewal_date,status\n"
        "s1,c1,pro,99.5,2024-01-01,2025-01-01,active\n",
        "Upsert Invoice": "external_id,company_id,amount,status,due_date\n"
        "i1,c1,250,unpaid,2024-07-01\n",
        "Upsert Deal": "external_id,company_id,name,stage,value,close_date\n"
        "d1,c1,Renewal,won,5000,2024-08-01\n",
    }
    for template, text in files.items():
        result = sync(write(tmp_path / "f.csv", text), "-t", template, "--restart")
        assert result.exit_code == 0, result.output
        assert "0 with errors" in result.output
    sandbox = state(url)
    (subscription,) = sandbox["subscriptions"]
    assert subscription["mrr"] == 99.5
    assert subscription["startedAt"].startswith("2024-01-01")
    assert subscription["nextBillingAt"].startswith("2025-01-01")
    assert subscription["metadata"] == {"status": "active"}
    (invoice,) = sandbox["invoices"]
    assert invoice["total"] == 250 and invoice["status"] == "unpaid"
    assert invoice["metadata"]["due_date"].startswith("2024-07-01")
    (deal,) = sandbox["deals"]
    assert deal["status"] == "won" and deal["value"] == 5000
    assert deal["wonAt"].startswith("2024-08-01")


def test_insert_event_puts_extra_columns_in_metadata(sync: Sync, url: str, tmp_path: Path) -> None:
    _people(sync, tmp_path)
    file = write(
        tmp_path / "e.csv",
        "user_id,name,created_at,plan,amount\nu1,Upgraded,2024-06-01T12:00:00Z,pro,42\n",
    )
    result = sync(file, "-t", "Insert Event")
    assert result.exit_code == 0, result.output
    (event,) = state(url)["events"]
    assert event["name"] == "Upgraded"
    assert event["metadata"] == {"plan": "pro", "amount": 42}


def test_create_task_with_defaults(sync: Sync, url: str, tmp_path: Path) -> None:
    write(tmp_path / "c.csv", "company_id\nc1\n")
    assert sync(tmp_path / "c.csv", "-t", "Upsert Company").exit_code == 0
    file = write(
        tmp_path / "t.csv",
        "name,due_date,company_id,description\nCall Acme,2024-09-01,c1,Quarterly review\n",
    )
    result = sync(file, "-t", "Create Task")
    assert result.exit_code == 0, result.output
    (task,) = state(url)["tasks"]
    assert task["name"] == "Call Acme"
    assert task["priority"] == "medium" and task["status"] == "open"
    assert task["dueDate"].startswith("2024-09-01")


def test_create_note_resolves_the_owner(sync: Sync, url: str, tmp_path: Path) -> None:
    write(tmp_path / "c.csv", "company_id\nc1\n")
    assert sync(tmp_path / "c.csv", "-t", "Upsert Company").exit_code == 0
    file = write(
        tmp_path / "n.csv",
        "text,company_id,created_at\nKickoff went well,c1,2024-01-01\nLost,c404,\n",
    )
    result = sync(file, "-t", "Create Note", "--error-report", tmp_path / "errors.jsonl")
    assert result.exit_code == 1, result.output  # row 2 failed
    sandbox = state(url)
    (note,) = sandbox["notes"]
    assert note["entity"] == sandbox["companies"][0]["id"] and note["entityModel"] == "Company"
    report = (tmp_path / "errors.jsonl").read_text()
    assert '"row":2' in report and "c404" in report


def test_upsert_custom_data_object_single_and_batched(sync: Sync, url: str, tmp_path: Path) -> None:
    write(tmp_path / "c.csv", "company_id\nc1\n")
    assert sync(tmp_path / "c.csv", "-t", "Upsert Company").exit_code == 0
    file = write(
        tmp_path / "d.csv",
        "type,data_id,company_id,seats,renews_at\nlicense,L1,c1,10,2025-01-01\nlicense,L2,c1,4,\n",
    )
    assert sync(file, "-t", "Upsert Custom Data Object").exit_code == 0
    objects = {o["data_id"]: o for o in state(url)["custom_data"]}
    assert objects["L1"]["data"]["seats"] == 10
    assert objects["L1"]["data_type"] == "license"
    file = write(tmp_path / "d2.csv", "type,data_id,company_id,seats\nlicense,L3,c1,1\n")
    assert sync(file, "-t", "Upsert Custom Data Object", "--batch").exit_code == 0
    assert state(url)["counts"]["custom_data"] == 3


def test_parquet_and_json_inputs(sync: Sync, url: str, tmp_path: Path) -> None:
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [
        {"user_id": "u1", "signed_up_at": datetime(2024, 5, 30, 12), "seats": 3},
        {"user_id": "u2", "signed_up_at": datetime(2024, 6, 1), "seats": 4},
    ]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "people.parquet")
    assert sync(tmp_path / "people.parquet", "-t", "Upsert Person").exit_code == 0
    write(tmp_path / "more.json", '[{"user_id": "u3", "email": "c@x.io", "vip": true}]')
    assert sync(tmp_path / "more.json", "-t", "Upsert Person").exit_code == 0
    people = {p["user_id"]: p for p in state(url)["people"]}
    assert people["u1"]["signed_up_at"].startswith("2024-05-30T12:00:00")
    assert people["u2"]["custom_attributes"] == {"seats": 4}
    assert people["u3"]["custom_attributes"] == {"vip": True}
