"""Who may read csroute's data: owner only by default, the group when configured.

Event payloads are personal data: ``csroute serve`` creates its data directory 0700 and the
SQLite database, WAL and shared-memory files 0600 (0750 / 0640 with
``store.file_mode: group``), and brings the files of a database created by an older version
to the same mode.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.process import CsrouteProcess

WRITE_KEY = "file-modes-write-key-0001"
FILES = ("events.db", "events.db-wal", "events.db-shm")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def config(**store: Any) -> dict[str, Any]:
    return {"sources": [{"name": "app", "write_key": WRITE_KEY}], "store": store}


def ingest(csroute: CsrouteProcess) -> None:
    sent = httpx.post(
        f"{csroute.url}/v1/track", auth=(WRITE_KEY, ""), json={"userId": "u", "event": "E"}
    )
    assert sent.status_code == 200


@pytest.mark.parametrize(
    ("file_mode", "dir_expected", "file_expected"),
    [(None, 0o700, 0o600), ("private", 0o700, 0o600), ("group", 0o750, 0o640)],
)
def test_data_files_are_created_for_the_owner_only_or_the_group(
    tmp_path: Path, file_mode: str | None, dir_expected: int, file_expected: int
) -> None:
    csroute = CsrouteProcess(tmp_path, config(**({"file_mode": file_mode} if file_mode else {})))
    csroute.start()
    try:
        ingest(csroute)
        data = tmp_path / "data"
        assert mode(data) == dir_expected
        assert {name: mode(data / name) for name in FILES} == dict.fromkeys(FILES, file_expected)
    finally:
        csroute.stop()


def test_a_world_readable_database_from_an_older_version_is_made_private(
    tmp_path: Path,
) -> None:
    csroute = CsrouteProcess(tmp_path, config())
    csroute.start()
    ingest(csroute)
    csroute.stop()
    data = tmp_path / "data"
    for name in FILES:
        if (data / name).exists():
            (data / name).chmod(0o644)
    csroute.start()
    try:
        ingest(csroute)
        assert {name: mode(data / name) for name in FILES} == dict.fromkeys(FILES, 0o600)
    finally:
        csroute.stop()
