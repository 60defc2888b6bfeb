"""Whole runs: bad rows are reported exactly and skipped, an interrupted run resumes without
duplicates, every request and answer reaches the response log and the webhook, preview and test
send, manual requests, standard input, and saved syncs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_support import API_KEY, Sync, state, write, write_config

from support.receiver import Receiver
from support.servers import ServerThread


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with ServerThread(hook) as server:
        yield hook, server.url


def test_bad_rows_are_reported_exactly_and_the_rest_land(
    sync: Sync, url: str, tmp_path: Path
) -> None:
    write(tmp_path / "c.csv", "company_id\nc1\n")
    assert sync(tmp_path / "c.csv", "-t", "Upsert Company").exit_code == 0
    deals = write(
        tmp_path / "deals.csv",
        "external_id,company_id,name,stage,value,close_date,colour\n"
        "d1,c1,One,won,100,2024-01-01,\n"  # fine
        ",c1,No id,pending,5,,\n"  # row 2: missing external_id
        "d3,c1,Three,won,7,next week,\n"  # row 3: bad date
        "d4,c1,Four,pending,9,,blue\n"  # row 4: unknown column with a value
        "d5,c404,Five,pending,1,,\n"  # row 5: Custify refuses (no such company)
        "d6,c1,Six,lost,12.5,,\n"  # row 6: value is not a whole number
        "d7,c1,Seven,lost,3,2024-02-02,\n",  # fine
    )
    report = tmp_path / "errors.jsonl"
    result = sync(deals, "-t", "Upsert Deal", "--error-report", report)
    assert result.exit_code == 1, result.output  # some rows failed: a script can tell
    assert "pre-flight: 7 rows, 4 with problems" in result.output
    errors = _lines(report)
    assert [(e["row"], e["field"], e["stage"]) for e in errors] == [
        (2, "external_id", "local"),
        (3, "close_date", "local"),
        (4, "colour", "local"),
        (5, None, "custify"),
        (6, "value", "local"),
    ]
    assert "next week" in errors[1]["message"] and "Company not found" in errors[3]["message"]
    assert sorted(d["externalIds"]["custify"] for d in state(url)["deals"]) == ["d1", "d7"]
    assert "7 rows: 2 sent, 5 with errors" in result.output


def test_custom_attributes_custify_would_refuse_are_found_before_sending(
    sync: Sync, url: str, tmp_path: Path
) -> None:
    people = write(
        tmp_path / "p.csv",
        "user_id,email,seats,a.b,2024,signed_up_at\n"
        "u1,a@x.io,1,,,2024-01-01\n"
        ",,2,,,\n"  # row 2: no id
        "u3,c@x.io,3,x,,\n"  # row 3: a key with a dot
        "u4,d@x.io,4,,y,\n"  # row 4: an all-digit key
        f"u5,e@x.io,{'z' * 256},,,\n"  # row 5: a string over 255 characters
        "u6,f@x.io,6,,,30/01/2024\n",  # row 6: a date Custify does not recognise
    )
    report = tmp_path / "errors.jsonl"
    result = sync(people, "-t", "Upsert Person", "--batch", "--error-report", report)
    assert result.exit_code == 1, result.output
    assert [(e["row"], e["field"]) for e in _lines(report)] == [
        (2, "user_id or email or id"),
        (3, "custom_attributes.a.b"),
        (4, "custom_attributes.2024"),
        (5, "custom_attributes.seats"),
        (6, "signed_up_at"),
    ]
    assert [p["user_id"] for p in state(url)["people"]] == ["u1"]


def test_an_interrupted_run_resumes_without_duplicates(url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from csroute.cli.main import app

    config = write_config(tmp_path / "csroute.yaml", url, max_attempts=1)

    def sync(*args: Any) -> Any:
        command = ["sync", *map(str, args), "--config", str(config)]
        return CliRunner().invoke(app, command, catch_exceptions=False)

    write(tmp_path / "p.csv", "user_id\nu1\nu2\n")
    assert sync(tmp_path / "p.csv", "-t", "Send Batch Request").exit_code == 0
    events = write(
        tmp_path / "events.csv",
        "user_id,name,created_at\n"
        + "".join(f"u{i % 2 + 1},event {i},2024-06-01T00:00:{i:02d}Z\n" for i in range(10)),
    )
    script = {"script": ["ok", "ok", "ok", 503]}
    httpx.post(f"{url}/__sandbox/faults", json=script).raise_for_status()
    first = sync(events, "-t", "Insert Event")
    assert first.exit_code == 1
    assert "stopped after row 3" in first.output
    assert len(state(url)["events"]) == 3
    second = sync(events, "-t", "Insert Event")
    assert second.exit_code == 0, second.output
    assert "resuming after row 3" in second.output
    names = [e["name"] for e in state(url)["events"]]
    assert sorted(names) == sorted(f"event {i}" for i in range(10))
    third = sync(events, "-t", "Insert Event")
    assert "already complete" in third.output
    assert len(state(url)["events"]) == 10
    log = _lines(Path(f"{events}.responses.jsonl"))
    assert [e["ok"] for e in log] == [True] * 3 + [False] + [True] * 7


def test_response_log_and_webhook_get_every_request(
    sync: Sync, url: str, tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    hook, hook_url = receiver
    people = write(
        tmp_path / "p.jsonl",
        "".join(json.dumps({"user_id": f"u{i}", "email": f"u{i}@x.io"}) + "\n" for i in range(5)),
    )
    log = tmp_path / "log.jsonl"
    result = sync(people, "-t", "Upsert Person", "--response-log", log, "--webhook", hook_url)
    assert result.exit_code == 0, result.output
    entries = _lines(log)
    assert len(entries) == 5 and all(e["ok"] for e in entries)
    assert [e["rows"] for e in entries] == [[i, i] for i in range(1, 6)]
    assert [e["request"]["body"]["user_id"] for e in entries] == [f"u{i}" for i in range(5)]
    assert all(e["response"]["user_id"] == e["request"]["body"]["user_id"] for e in entries)
    assert API_KEY not in log.read_text()
    assert hook.bodies == entries


def test_preview_and_test_send(sync: Sync, url: str, tmp_path: Path) -> None:
    people = write(tmp_path / "p.csv", "id_col,mail,skip\n1,a@x.io,s\n2,b@x.io,s\n3,c@x.io,s\n")
    args = ("-t", "Upsert Person", "--map", "id_col=user_id", "--map", "mail=email", "-x", "skip")
    preview = sync(people, *args, "--preview", "2")
    assert preview.exit_code == 0, preview.output
    shown = json.loads(preview.stdout)
    assert [r["body"] for r in shown] == [
        {"user_id": "1", "email": "a@x.io"},
        {"user_id": "2", "email": "b@x.io"},
    ]
    assert shown[0]["url"] == f"{url}/people"
    assert API_KEY not in preview.output and "Bearer" in preview.output
    assert state(url)["counts"]["people"] == 0
    tested = sync(people, *args, "--test")
    assert tested.exit_code == 0, tested.output
    assert '"ok": true' in tested.output
    assert [p["user_id"] for p in state(url)["people"]] == ["1"]


def test_preview_shows_the_rows_it_would_reject(sync: Sync, url: str, tmp_path: Path) -> None:
    people = write(tmp_path / "p.csv", "user_id,email\n1,a@x.io\n,\n3,c@x.io\n")
    preview = sync(people, "-t", "Upsert Person", "--preview", "5")
    assert preview.exit_code == 1  # as --test and the real run: some rows would fail
    assert "pre-flight: 3 rows, 1 with problems" in preview.stderr
    assert "│ 2   │ user_id or email or id │" in preview.stderr
    assert [r["body"]["user_id"] for r in json.loads(preview.stdout)] == ["1", "3"]
    assert state(url)["counts"]["people"] == 0


def test_manual_request_with_headers_and_batching(
    sync: Sync, tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    hook, hook_url = receiver
    rows = write(tmp_path / "r.csv", "sku,qty\n" + "".join(f"s{i},{i}\n" for i in range(5)))
    result = sync(
        rows,
        "-t",
        "manual",
        "--url",
        f"{hook_url}/ingest?source=csv",
        "-H",
        "X-Team:cs,X-Env:test",
        "--batch-property",
        "batch",
        "--batch-size",
        "2",
        "--other",
        '{"synchronous": false}',
        "-x",
        "qty",
    )
    assert result.exit_code == 0, result.output
    assert hook.bodies == [
        {"batch": [{"sku": "s0"}, {"sku": "s1"}], "synchronous": False},
        {"batch": [{"sku": "s2"}, {"sku": "s3"}], "synchronous": False},
        {"batch": [{"sku": "s4"}], "synchronous": False},
    ]
    assert all(h["x-team"] == "cs" and h["x-env"] == "test" for h in hook.headers)
    assert hook.headers[0]["authorization"] == f"Bearer {API_KEY}"
    refused = sync(rows, "-t", "manual", "--path", "/people", "-H", "Authorization:x")
    assert refused.exit_code == 2 and "Authorization" in refused.output


def test_standard_input(
    sync: Sync, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the logs of standard input go to the current directory
    result = sync("-", "-t", "upsert_company", "--format", "jsonl", input='{"company_id": "c9"}\n')
    assert result.exit_code == 0, result.output
    assert [c["company_id"] for c in state(url)["companies"]] == ["c9"]
    assert len(_lines(tmp_path / "stdin.responses.jsonl")) == 1
    assert not (tmp_path / "stdin.checkpoint.json").exists()


def test_saved_syncs_run_by_name_and_inactive_ones_are_refused(
    sync: Sync, url: str, tmp_path: Path
) -> None:
    people = write(tmp_path / "p.csv", "uid,email\nu1,a@x.io\n")
    config = write_config(
        tmp_path / "saved.yaml",
        url,
        "syncs:\n"
        "  crm_people:\n"
        f"    file: {people}\n"
        "    template: Upsert Person\n"
        "    connection: sandbox\n"
        "    map: {uid: user_id}\n"
        "  paused:\n"
        f"    file: {people}\n"
        "    template: upsert-company\n"
        "    active: false\n",
    )
    listed = sync("list", config=config)
    assert "crm_people" in listed.output and "paused" in listed.output
    ran = sync("run", "crm_people", config=config)
    assert ran.exit_code == 0, ran.output
    assert [p["user_id"] for p in state(url)["people"]] == ["u1"]
    refused = sync("run", "paused", config=config)
    assert refused.exit_code == 2 and "inactive" in refused.output


def test_config_check_reports_bad_saved_syncs(url: str, tmp_path: Path) -> None:
    from csroute.config import ConfigError, load

    config = write_config(
        tmp_path / "bad.yaml",
        url,
        "syncs:\n"
        "  a: {file: x.csv, template: Upsert Unicorn}\n"
        "  b: {file: x.csv, template: Create Task, batch: true}\n"
        "  c: {file: x.csv, template: Upsert Person, connection: nowhere}\n",
    )
    with pytest.raises(ConfigError) as raised:
        load(config)
    problems = "\n".join(raised.value.problems)
    assert "syncs.a.template: unknown template" in problems
    assert "syncs.b.batch: Create Task has no batch endpoint" in problems
    assert "syncs.c.connection" in problems


def test_a_changed_file_or_mapping_starts_again(sync: Sync, url: str, tmp_path: Path) -> None:
    companies = write(tmp_path / "c.csv", "company_id,label\nc1,a\n")
    assert sync(companies, "-t", "Upsert Company").exit_code == 0
    again = sync(companies, "-t", "Upsert Company")
    assert "already complete" in again.output
    remapped = sync(companies, "-t", "Upsert Company", "--map", "label=name")
    assert "settings changed" in remapped.output and "1 sent" in remapped.output
    assert state(url)["companies"][0]["name"] == "a"
    restarted = sync(companies, "-t", "Upsert Company", "--map", "label=name", "--restart")
    assert "1 sent" in restarted.output
    write(companies, "company_id,label\nc1,a\nc2,b\n")
    changed = sync(companies, "-t", "Upsert Company", "--map", "label=name")
    assert "starting from row 1" in changed.output and "2 sent" in changed.output


def test_a_killed_process_resumes_without_duplicates_or_gaps(
    sync: Sync, url: str, config_file: Path, tmp_path: Path
) -> None:
    """SIGKILL mid-run: the request in flight may have landed unacknowledged and is sent again
    (docs/sync.md, Resume); a ``deduplication_id`` column makes that harmless for events."""
    import os
    import signal
    import subprocess
    import sys
    import time

    write(tmp_path / "p.csv", "user_id\nu1\n")
    assert sync(tmp_path / "p.csv", "-t", "Upsert Person").exit_code == 0
    rows = 40
    events = write(
        tmp_path / "events.csv",
        "user_id,name,created_at,deduplication_id\n"
        + "".join(f"u1,event {i},2024-06-01T00:00:00Z,e{i}\n" for i in range(rows)),
    )
    httpx.post(f"{url}/__sandbox/faults", json={"latency_ms": 50}).raise_for_status()
    checkpoint = Path(f"{events}.checkpoint.json")
    command = [sys.executable, "-m", "csroute", "sync", str(events), "-t", "Insert Event",
               "--config", str(config_file)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if checkpoint.exists() and json.loads(checkpoint.read_text())["rows_done"] >= 5:
                break
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(10)
    done = json.loads(checkpoint.read_text())["rows_done"]
    assert 5 <= done < rows
    assert checkpoint.stat().st_mode & 0o777 == 0o600  # store.file_mode's default: private
    httpx.delete(f"{url}/__sandbox/faults").raise_for_status()
    resumed = sync(events, "-t", "Insert Event")
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming after row {done}" in resumed.output
    names = sorted(e["name"] for e in state(url)["events"])
    assert names == sorted(f"event {i}" for i in range(rows))
