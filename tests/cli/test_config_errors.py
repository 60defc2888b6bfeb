"""What a person meets with a configuration file: paths, secrets, errors, all through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csroute.cli import app
from support.servers import free_port

runner = CliRunner()

CONFIG = """
data_dir: data
admin: {token: "${ADMIN_TOKEN_FOR_TEST}"}
sources: [{name: web, write_key: "${WRITE_KEY_FOR_TEST}"}]
destinations:
  - name: cs
    type: custify
    settings: {api_key: "${CUSTIFY_KEY_FOR_TEST}", batchsize: 10}
connections: [{source: web, destinations: [cs]}]
"""


def csroute(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed command, in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "csroute", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_problem_at_once_with_key_paths_and_suggestions(tmp_path: Path) -> None:
    path = tmp_path / "csroute.yaml"
    path.write_text(CONFIG + "server: {port: eighty, hots: x}\nlogging: {level: loud}\n")
    result = csroute("config", "check", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    for expected in (
        "admin.token: environment variable ADMIN_TOKEN_FOR_TEST is not set",
        "sources[0].write_key: environment variable WRITE_KEY_FOR_TEST is not set",
        "server.port: must be a whole number (got 'eighty')",
        "server.hots: unknown key (did you mean host?)",
        "logging.level: must be one of debug, info, warning, error (got 'loud')",
    ):
        assert expected in result.stderr
    assert f"{path}: 6 problems" in result.stderr
    assert "Object contains" not in result.stderr and "Traceback" not in result.stderr


def test_destination_settings_name_the_misspelt_key(tmp_path: Path) -> None:
    env = {
        "ADMIN_TOKEN_FOR_TEST": "t" * 24,
        "WRITE_KEY_FOR_TEST": "wk-123456789",
        "CUSTIFY_KEY_FOR_TEST": "k",
    }
    (tmp_path / "c.yaml").write_text(CONFIG)
    result = runner.invoke(app, ["config", "check", "-c", str(tmp_path / "c.yaml")], env=env)
    assert result.exit_code == 2
    assert "destinations[0].settings.batchsize: unknown key (did you mean batch_size?)" in (
        result.output
    )


def test_a_yaml_error_never_shows_a_substituted_secret(tmp_path: Path) -> None:
    secret = "sk-live-abcdef0123456789"
    path = tmp_path / "c.yaml"
    path.write_text('sources: [{name: web, write_key: "${WK_FOR_TEST}"}]\nbroken: [\n')
    result = csroute("config", "check", "-c", str(path), cwd=tmp_path, env={"WK_FOR_TEST": secret})
    assert result.returncode == 2
    assert "not valid YAML" in result.stderr
    assert secret not in result.stderr + result.stdout


def test_a_secret_with_yaml_syntax_stays_a_plain_value(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sources: [{name: web, write_key: '${WK_FOR_TEST}'}]\n")
    result = csroute(
        "config", "check", "-c", str(path), cwd=tmp_path, env={"WK_FOR_TEST": "a: b, [c]# x"}
    )
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("''", "admin.token: is blank"),
        ("'   '", "admin.token: is blank"),
        ("short-token", "admin.token: is too short (11 characters); use at least 16"),
    ],
)
def test_a_weak_admin_token_is_a_configuration_error(
    tmp_path: Path, token: str, problem: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"admin: {{token: {token}}}\n")
    result = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code == 2
    assert problem in result.output


def test_relative_paths_resolve_against_the_files_directory(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "csroute.yaml"
    path.write_text("data_dir: state\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = csroute("config", "check", "-c", str(path), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert f"store: sqlite ({tmp_path / 'etc' / 'state' / 'events.db'})" in result.stdout


def test_read_only_commands_never_create_a_store_and_say_where_they_looked(tmp_path: Path) -> None:
    path = tmp_path / "csroute.yaml"
    path.write_text("data_dir: data\n")
    for command in (["status"], ["dlq", "list"], ["dlq", "show", "1"]):
        result = csroute(*command, "-c", str(path), cwd=tmp_path / "..")
        assert result.returncode == 3, (command, result.stderr)
        assert f"no store at {tmp_path / 'data' / 'events.db'}" in result.stderr
    assert not (tmp_path / "data").exists()


def test_read_only_commands_do_not_need_the_secrets(tmp_path: Path) -> None:
    path = tmp_path / "csroute.yaml"
    path.write_text(CONFIG.replace(", batchsize: 10", ""))
    assert runner.invoke(app, ["db", "migrate", "-c", str(path)]).exit_code == 0
    status = runner.invoke(app, ["status", "-c", str(path)])
    assert status.exit_code == 0, status.output
    assert "cs" in status.output and "custify" in status.output
    empty = runner.invoke(app, ["dlq", "list", "-c", str(path)])
    assert empty.exit_code == 0
    assert empty.output.strip() == "no dead letters"
    check = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert check.exit_code == 2  # the command that checks everything still wants them


def test_read_only_commands_still_need_the_stores_own_variables(tmp_path: Path) -> None:
    path = tmp_path / "csroute.yaml"
    path.write_text("store: {backend: postgres, url: '${PG_URL_FOR_TEST}'}\n")
    result = runner.invoke(app, ["status", "-c", str(path)])
    assert result.exit_code == 2
    assert "store.url: environment variable PG_URL_FOR_TEST is not set" in result.output


def test_the_demo_keeps_its_store_in_one_documented_place(tmp_path: Path) -> None:
    demo = tmp_path / "demo-home"
    result = csroute("db", "migrate", cwd=tmp_path, env={"CSROUTE_DEMO_DIR": str(demo)})
    assert result.returncode == 0, result.stderr
    assert (demo / "events.db").is_file()
    other = tmp_path / "other"
    other.mkdir()
    status = csroute("status", cwd=other, env={"CSROUTE_DEMO_DIR": str(demo)})
    assert status.returncode == 0, status.stderr
    assert "custify" in status.stdout and not (other / "data").exists()


def test_a_yaml_error_says_where_in_plain_words(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sources: [\n")
    result = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code == 2
    assert "not valid YAML at line 2, column 1: expected the node content" in result.output
    assert "<unicode string>" not in result.output


def test_a_missing_file_is_named_once(tmp_path: Path) -> None:
    result = runner.invoke(app, ["status", "-c", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'}: 1 problem" in result.output
    assert "cannot read the file (No such file or directory)" in result.output


def test_custify_commands_need_only_the_custify_secrets(tmp_path: Path) -> None:
    path = tmp_path / "csroute.yaml"
    path.write_text(CONFIG.replace(", batchsize: 10", ""))
    (tmp_path / "p.csv").write_text("user_id,email\nu1,a@example.com\n")
    env = {"CSROUTE_CUSTIFY_API_KEY": "key-0123456789"}
    args = ["sync", str(tmp_path / "p.csv"), "-t", "Upsert Persn", "-c", str(path)]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2
    assert "template: unknown template 'Upsert Persn' (did you mean Upsert Person?)" in (
        result.output
    )
    assert "WRITE_KEY_FOR_TEST" not in result.output


def test_a_mistyped_credential_is_described_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sources: [{name: web, write_key: 918273645546372819}]\n")
    result = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code == 2
    assert "sources[0].write_key: must be text (got a whole number)" in result.output
    assert "918273645546372819" not in result.output


def test_an_unreachable_database_is_named_with_its_password_masked(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    path = tmp_path / "c.yaml"
    path.write_text(
        f"store: {{backend: postgres, url: 'postgresql://u:pw-secret-123456@127.0.0.1:{port}/db'}}\n"
    )
    result = runner.invoke(app, ["status", "-c", str(path)])
    assert result.exit_code == 3
    assert f"error: cannot open the store at postgresql://u:pw…56@127.0.0.1:{port}/db:" in (
        result.output
    )
    assert "pw-secret-123456" not in result.output
