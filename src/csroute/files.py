"""Who may read what csroute writes: its owner only, unless the configuration says the group.

The database holds event payloads (personal data), and sync writes response logs, error
reports and checkpoints beside its input. Rather than set a mode on each file at each place
that creates one (SQLite creates its ``-wal`` and ``-shm`` files itself, in a child process),
the process's umask is set once the configuration is known, so that everything it creates
from then on gets the mode: ``private`` 0600 files in 0700 directories, ``group`` 0640 in
0750. Database files created before that (by an older version) are brought to the mode when
the store opens.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final, Literal

FileMode = Literal["private", "group"]

_UMASK: Final = {"private": 0o077, "group": 0o027}
_FILE: Final = {"private": 0o600, "group": 0o640}


def use(mode: FileMode) -> None:
    """Create every file and directory from now on with ``mode``'s permissions."""
    os.umask(_UMASK[mode])


def restrict_database(path: Path, mode: FileMode) -> None:
    """Bring an existing SQLite database's files to ``mode`` (SQLite gives the ``-wal`` and
    ``-shm`` files it creates later the database file's permissions)."""
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        with contextlib.suppress(FileNotFoundError):
            (path.parent / name).chmod(_FILE[mode])
