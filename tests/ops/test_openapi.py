"""The OpenAPI description: served by csroute, copied in docs/, and kept by the server.

schemathesis generates requests from the description the running server serves, valid ones
and ones that break it, and checks every answer: never a 5xx, only documented statuses,
bodies of the documented shape. The number of examples is bounded so the suite stays quick.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from csroute.ops.openapi import document, rendered
from support.process import CsrouteProcess

WRITE_KEY = "openapi-write-key-0001"
ADMIN_TOKEN = "openapi-admin-token-0002"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def csroute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CsrouteProcess]:
    process = CsrouteProcess(
        tmp_path_factory.mktemp("openapi"),
        {
            "admin": {"token": ADMIN_TOKEN},
            "sources": [{"name": "app", "write_key": WRITE_KEY}],
        },
    ).start()
    try:
        yield process
    finally:
        process.stop()


def test_the_docs_copy_is_the_served_description(csroute: CsrouteProcess) -> None:
    assert DOCS.read_text() == rendered(), "run: .venv/bin/python scripts/openapi.py"
    assert httpx.get(f"{csroute.url}/openapi.json").json() == document()


@pytest.fixture
def served(csroute: CsrouteProcess) -> schemathesis.BaseSchema:
    """The description as the server serves it, with the credentials for its schemes but
    the push signature (no trigger is configured: every push is a 404); schemathesis leaves
    them out itself to check that refusals follow."""
    config = SchemathesisConfig.from_dict(
        {
            "base-url": csroute.url,
            "auth": {
                "openapi": {
                    "writeKey": {"username": WRITE_KEY, "password": ""},
                    "writeKeyQuery": {"api_key": WRITE_KEY},
                    "adminToken": {"bearer": ADMIN_TOKEN},
                }
            },
        }
    )
    return schemathesis.openapi.from_url(f"{csroute.url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("served")
# Paths that are another name for a documented one (the same handler and checks: the SDKs'
# short paths, the beacon) and the CORS preflights get fewer examples, so the suite stays quick.
ALIASES = r"_short$|^ingest_beacon$|^preflight_"
# The live stream never ends, so it cannot be called and checked; its refusals are tested in
# tests/capture/test_stream_http.py.
ENDLESS = r"^stream$"


@schema.exclude(operation_id_regex=f"{ALIASES}|{ENDLESS}").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_server_keeps_to_its_description(case: schemathesis.Case) -> None:
    checked(case)


@schema.include(operation_id_regex=ALIASES).parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_aliases_and_preflights_keep_to_it_too(case: schemathesis.Case) -> None:
    checked(case)


def checked(case: schemathesis.Case) -> None:
    # Valid by the schema is not always accepted: rules the schema language cannot say (a
    # non-empty userId or anonymousId, ISO-8601 forms, size limits) refuse some with a 4xx.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
