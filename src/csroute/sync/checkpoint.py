"""Where an interrupted sync resumes: the last file row whose request Custify acknowledged.

The checkpoint is keyed by the file (path, size, modification time) and the settings that shape
the requests (template, mapping, batching, manual request), so a changed file or mapping starts
again from the first row instead of resuming at a row number that no longer means the same
record. It is rewritten (atomically, by rename) after every acknowledged request, so a resumed run
neither skips nor repeats records; only a request in flight when the process died may have been
applied without being recorded, and that request is sent again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def checkpoint_key(file: Path, settings: Any) -> str:
    stat = file.stat()
    identity = [str(file.resolve()), stat.st_size, stat.st_mtime_ns, settings]
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class Checkpoint:
    path: Path
    key: str
    rows_done: int = 0
    complete: bool = False

    @classmethod
    def load(cls, path: Path, key: str) -> tuple[Checkpoint, bool]:
        """The checkpoint for ``key``, and whether one of another file or settings was found
        (and is replaced)."""
        try:
            saved = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path, key), False
        except (OSError, ValueError):
            return cls(path, key), True
        if not isinstance(saved, dict) or saved.get("key") != key:
            return cls(path, key), True
        return cls(path, key, int(saved.get("rows_done", 0)), bool(saved.get("complete"))), False

    def save(self, rows_done: int, *, complete: bool = False) -> None:
        self.rows_done, self.complete = rows_done, complete
        temporary = self.path.with_name(self.path.name + ".tmp")
        body = {"key": self.key, "rows_done": rows_done, "complete": complete}
        temporary.write_text(json.dumps(body))
        os.replace(temporary, self.path)
