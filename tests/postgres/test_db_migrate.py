"""``csroute db migrate``: creates the schema once, however many processes run it at once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import yaml

from csroute.store.postgres.schema import VERSION
from support.postgres import fresh_database
from support.process import CSROUTE


def migrate(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CSROUTE, "db", "migrate", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_migrations_create_the_schema_once(tmp_path: Path) -> None:
    url = fresh_database()
    config = tmp_path / "csroute.yaml"
    config.write_text(yaml.safe_dump({"store": {"backend": "postgres", "url": url}}))

    runs = [migrate(config) for _ in range(3)]
    outputs = [run.communicate(timeout=60) for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    said = sorted(out.split(": ", 1)[1].strip() for out, _ in outputs)
    assert said == [
        f"schema is up to date (version {VERSION})",
        f"schema is up to date (version {VERSION})",
        f"schema migrated from version 0 to {VERSION}",
    ]
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM csroute_schema ORDER BY version").fetchall()
    assert rows == [(v,) for v in range(1, VERSION + 1)]


def test_the_password_is_never_printed(tmp_path: Path) -> None:
    password = "s3cret-passw0rd"
    url = fresh_database().replace("://csroute@", f"://csroute:{password}@")
    config = tmp_path / "csroute.yaml"
    config.write_text(yaml.safe_dump({"store": {"backend": "postgres", "url": url}}))

    out, err = migrate(config).communicate(timeout=60)

    assert "schema migrated" in out
    assert password not in out + err


def test_sqlite_files_are_migrated_too(tmp_path: Path) -> None:
    config = tmp_path / "csroute.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))

    first = migrate(config).communicate(timeout=60)[0]
    again = migrate(config).communicate(timeout=60)[0]

    assert "schema migrated from version 0 to" in first
    assert "schema is up to date" in again
    assert (tmp_path / "data" / "events.db").exists()
