"""The ``store`` section for PostgreSQL: what it takes and what it refuses."""

from __future__ import annotations

import pytest
import yaml

from csroute import config as config_module
from csroute.config import ConfigError


def parse(store: dict[str, object], env: dict[str, str] | None = None) -> config_module.Config:
    return config_module.parse(yaml.safe_dump({"store": store}), env=env or {})


def test_the_url_takes_its_password_from_the_environment() -> None:
    cfg = parse(
        {"backend": "postgres", "url": "postgresql://csroute:${PGPASS}@db:5432/csroute"},
        env={"PGPASS": "s3cret-pw"},
    )

    assert cfg.store.url == "postgresql://csroute:s3cret-pw@db:5432/csroute"
    assert cfg.store.partition_count() == 8


@pytest.mark.parametrize(
    ("store", "problem"),
    [
        ({"backend": "postgres"}, "store.url: the postgres backend needs a connection URL"),
        ({"backend": "postgres", "url": "postgresql://x/y", "partitions": 3}, "power of two"),
        ({"backend": "postgres", "url": "postgresql://x/y", "partitions": 128}, "power of two"),
        ({"partitions": 2}, "needs the postgres backend"),
        ({"backend": "postgres", "url": "postgresql://x/y", "lease_ttl_s": 0}, "positive"),
    ],
)
def test_impossible_store_settings_are_refused(store: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse(store)

    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_sqlite_always_has_one_partition() -> None:
    assert parse({}).store.partition_count() == 1
    assert parse({"partitions": 1}).store.partition_count() == 1
