"""The ``csroute custify`` CLI around the actions: named connections, dry runs, confirmation
before deletes, test-connection, tables, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from custify_client_support import API_KEY, CliFailed, invoke, sandbox_requests, write_config
from typer.testing import CliRunner

from csroute.cli.main import app
from csroute.config import ConfigError, parse
from csroute.custify.client import Connection, ConnectionNotFound, Custify, resolve
from csroute.custify.client.actions import ACTIONS

SECRET = "sk_live_0123456789abcdef"


def cli(args: list[str], config: Path, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["custify", *args, "--config", str(config)], input=input,
        env={"CSROUTE_CUSTIFY_API_KEY": ""},
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def test_every_action_has_a_command_with_help(config_file: Path) -> None:
    for action in ACTIONS:
        code, out, _ = cli([action.resource, action.name, "--help"], config_file)
        assert code == 0 and action.endpoint.split()[0] in out, action.key


def test_dry_run_prints_the_exact_request_with_the_key_masked(url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", url, key=SECRET)
    code, out, _ = cli(
        ["people", "upsert", "--set", "user_id=u1", "--set", "custom_attributes.plan=pro",
         "--dry-run"], config,
    )  # fmt: skip
    assert code == 0
    assert json.loads(out) == {
        "dry_run": True,
        "requests": [
            {
                "method": "POST",
                "url": f"{url}/people",
                "params": {},
                "headers": {
                    "Authorization": "Bearer sk…ef",
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                },
                "body": {"user_id": "u1", "custom_attributes": {"plan": "pro"}},
            }
        ],
    }
    assert SECRET not in out
    assert sandbox_requests(url) == []


def test_dry_run_of_an_upload_describes_the_multipart_body(
    url: str, config_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "plan.pdf"
    path.write_bytes(b"%PDF-1.4")
    out = invoke(["files", "upload", "--file", str(path), "--company-id", "c", "--dry-run"],
                 config_file)  # fmt: skip
    [request] = out["requests"]
    assert request["multipart"] == {
        "file": {"filename": "plan.pdf", "content_type": "application/pdf", "bytes": 8},
        "companyId": "c",
    }
    assert sandbox_requests(url) == []


def test_deletes_ask_first(api: Custify, config_file: Path) -> None:
    person = api.people.upsert(user_id="u1")
    code, _, err = cli(["people", "delete", "--user-id", "u1"], config_file, input="n\n")
    assert code != 0 and "cannot be undone" in err
    assert api.people.get(person["id"])
    code, _, _ = cli(["people", "delete", "--user-id", "u1"], config_file, input="y\n")
    assert code == 0
    assert list(api.people.list()) == []


def test_errors_exit_non_zero_with_custifys_message(api: Custify, config_file: Path) -> None:
    with pytest.raises(CliFailed, match="People not found") as caught:
        invoke(["people", "get", "--id", "5b9f95d838ab5e09b8ed66cb"], config_file)
    assert caught.value.exit_code == 1
    with pytest.raises(CliFailed, match="score: must be an integer from 0 to 10") as caught:
        invoke(["scores", "nps", "--score", "11", "--user-id", "u1"], config_file)
    assert caught.value.exit_code == 2
    with pytest.raises(CliFailed, match="--data: not valid JSON"):
        invoke(["people", "upsert", "--data", "{nope"], config_file)


def test_data_file_set_and_params(api: Custify, config_file: Path, tmp_path: Path) -> None:
    body = tmp_path / "person.json"
    body.write_text(json.dumps({"user_id": "u1", "name": "Ada"}))
    person = invoke(["people", "upsert", "--data", f"@{body}", "--set", "session_count=3"],
                    config_file)  # fmt: skip
    assert (person["name"], person["session_count"]) == ("Ada", 3)
    api.people.upsert(user_id="u2", name="Bob")
    sorting = json.dumps({"field": "user_id", "direction": "asc"})
    listed = invoke(["people", "list", "--param", f"sorting={sorting}", "--limit", "1"],
                    config_file)  # fmt: skip
    assert [p["user_id"] for p in listed] == ["u1"]


def test_table_output(api: Custify, config_file: Path) -> None:
    api.people.upsert(user_id="u1", email="ada@example.com")
    code, out, _ = cli(["people", "list", "--table"], config_file)
    assert code == 0 and "ada@example.com" in out and "1 record(s)" in out


def test_test_connection(url: str, tmp_path: Path) -> None:
    good = write_config(tmp_path / "good.yaml", url)
    out = invoke(["test-connection"], good)
    assert out["ok"] is True and out["connection"]["api_key"] == "sa…ey"
    bad = write_config(tmp_path / "bad.yaml", url, key=SECRET)
    with pytest.raises(CliFailed, match="invalid API-KEY") as caught:
        invoke(["test-connection"], bad)
    assert SECRET not in str(caught.value)


def test_named_connections_pick_their_own_account(tmp_path: Path) -> None:
    from csroute.custify.sandbox import running

    with (
        running(rate_limit=None) as prod,
        running(rate_limit=None, api_keys=("staging-key",)) as staging,
    ):
        config = tmp_path / "csroute.yaml"
        config.write_text(
            "custify_connections:\n"
            f"  production: {{api_key: {API_KEY}, base_url: '{prod}'}}\n"
            f"  staging: {{api_key: staging-key, base_url: '{staging}'}}\n"
        )
        invoke(["people", "upsert", "--set", "user_id=p", "--connection", "production"], config)
        invoke(["people", "upsert", "--set", "user_id=s", "-C", "staging"], config)
        with pytest.raises(CliFailed, match=r"no Custify connection chosen.*production, staging"):
            invoke(["people", "list"], config)
        listed = invoke(["connections"], config)
        with Custify(API_KEY, prod) as p, Custify("staging-key", staging) as s:
            assert [x["user_id"] for x in p.people.list()] == ["p"]
            assert [x["user_id"] for x in s.people.list()] == ["s"]
    assert [c["name"] for c in listed["connections"]] == ["production", "staging"]
    assert API_KEY not in json.dumps(listed) and "staging-key" not in json.dumps(listed)


def test_resolve_prefers_the_name_then_the_environment() -> None:
    config = parse(
        "custify_connections:\n"
        "  default: {api_key: k1}\n"
        "  eu: {api_key: k2, base_url: 'https://eu.example/', time_track_path: /time_track}\n"
    )  # fmt: skip
    eu = resolve(config.custify_connections, "eu", env={})
    assert (eu.api_key, eu.base_url, eu.time_track_path) == ("k2", "https://eu.example",
                                                              "/time_track")  # fmt: skip
    assert resolve(config.custify_connections, None, env={}).api_key == "k1"
    assert (
        resolve(config.custify_connections, None, env={"CSROUTE_CUSTIFY_CONNECTION": "eu"}).api_key
        == "k2"
    )
    env = {"CSROUTE_CUSTIFY_API_KEY": "k3", "CSROUTE_CUSTIFY_BASE_URL": "http://127.0.0.1:9"}
    from_env = resolve(config.custify_connections, None, env=env)
    assert from_env == Connection("k3", "http://127.0.0.1:9", name="env")
    with pytest.raises(ConnectionNotFound, match="known: default, eu"):
        resolve(config.custify_connections, "staging", env={})
    assert "k3" not in repr(from_env)


def test_config_rejects_bad_connections() -> None:
    with pytest.raises(ConfigError) as caught:
        parse("custify_connections:\n  prod: {api_key: '', base_url: ftp://x}\n")
    assert caught.value.problems == [
        "custify_connections.prod.api_key: must not be empty",
        "custify_connections.prod.base_url: must start with https:// (got 'ftp://x')",
    ]
