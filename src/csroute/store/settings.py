"""The ``store:`` section of the configuration file: which backend holds the event log, and
how (docs/configuration.md)."""

from __future__ import annotations

from typing import Literal

from csroute.files import FileMode
from csroute.shape import Section


class StoreConfig(Section):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "events.db"
    """SQLite file, relative to ``data_dir``."""
    synchronous: Literal["full", "normal"] = "full"
    """SQLite durability: ``full`` survives power loss, ``normal`` survives process crashes."""
    url: str = ""
    """PostgreSQL connection URL (postgres backend); put the password in ``${ENV}``."""
    retention_s: float = 0.0
    """Keep events at least this long after they were received, delivered or not (for replay
    and audits); 0 deletes them as soon as every destination is done with them."""
    prune_interval_s: float = 60.0
    """How often the router deletes events every destination is done with; 0 keeps them all."""
    partitions: int | None = None
    """How many shares of each destination's users worker processes split between them
    (postgres backend; a power of two up to 64; default 8). SQLite always uses 1."""
    lease_ttl_s: float = 10.0
    """How long a worker's claim on partitions lasts without renewal: after a worker dies, the
    others take its partitions over within this time (postgres backend)."""
    pool_size: int = 8
    """Database connections per process for reads and delivery state (postgres backend)."""
    file_mode: FileMode = "private"
    """Who may read the files csroute writes (database, sync logs and checkpoints):
    ``private`` 0600 files in 0700 directories, ``group`` 0640 in 0750."""

    def partition_count(self) -> int:
        if self.backend == "sqlite":
            return 1
        return 8 if self.partitions is None else self.partitions


def problems(store: StoreConfig) -> list[str]:
    """What the schema cannot check, each with its key path."""
    from csroute.store.base import PARTS  # the store's code, loaded only once it is used

    problems: list[str] = []
    if store.backend == "postgres" and not store.url:
        problems.append("store.url: the postgres backend needs a connection URL")
    if store.partitions is not None:
        n = store.partitions
        if store.backend == "sqlite" and n != 1:
            problems.append(
                "store.partitions: SQLite serves one worker process; splitting a destination"
                " between several needs the postgres backend"
            )
        elif n < 1 or n > PARTS or n & (n - 1):
            problems.append(f"store.partitions: must be a power of two from 1 to {PARTS} (got {n})")
    if store.lease_ttl_s <= 0:
        problems.append(f"store.lease_ttl_s: must be positive (got {store.lease_ttl_s})")
    if store.pool_size < 1:
        problems.append(f"store.pool_size: must be at least 1 (got {store.pool_size})")
    return problems
