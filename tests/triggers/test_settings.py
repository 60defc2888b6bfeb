"""The ``triggers:`` section: each mistake reported with its key path, before anything runs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from csroute.config import ConfigError, parse
from csroute.triggers.catalog import TRIGGERS, find

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)


def problems(**triggers: Any) -> list[str]:
    document = {
        "sources": [{"name": "custify", "write_key": "wk"}],
        "custify_connections": {"prod": {"api_key": "k"}},
        "triggers": triggers,
    }
    try:
        parse(yaml.safe_dump(document))
    except ConfigError as e:
        return e.problems
    return []


TRACK = {"source": "custify"}


def test_there_are_24_triggers_found_by_key_or_title() -> None:
    assert len(TRIGGERS) == 24
    assert find("Customer Objective Updated") is find("customer_objective_updated") is not None
    assert find("Survey Updated") is None  # surveys only have Created


def test_a_trigger_needs_a_custify_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSROUTE_CUSTIFY_API_KEY", raising=False)
    monkeypatch.delenv("CSROUTE_CUSTIFY_CONNECTION", raising=False)
    document = {
        "sources": [{"name": "custify", "write_key": "wk"}],
        "triggers": {"t": {"type": "note_created", "track": TRACK}},
    }
    with pytest.raises(ConfigError) as raised:
        parse(yaml.safe_dump(document))

    assert raised.value.problems == [
        "triggers.t.connection: no Custify connection chosen: pass --connection NAME (known: none"
        " configured) or set CSROUTE_CUSTIFY_API_KEY"
    ]


def test_a_valid_trigger_passes() -> None:
    assert problems(t={"type": "Ticket Created", "track": TRACK, "connection": "prod"}) == []


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            {"type": "Deal Created", "track": TRACK},
            "triggers.t.type: unknown trigger 'Deal Created'",
        ),
        ({"type": "note_created"}, "triggers.t: needs somewhere to send records"),
        (
            {"type": "note_created", "track": {"source": "web"}},
            "triggers.t.track.source: no source named 'web'",
        ),
        (
            {"type": "note_created", "track": TRACK, "connection": "staging"},
            "triggers.t.connection: no Custify connection named 'staging'",
        ),
        ({"type": "file_created", "track": TRACK}, "triggers.t.scope: required"),
        (
            {"type": "file_created", "track": TRACK, "scope": {"company_id": "acme"}},
            "triggers.t.scope.company_id: not available here",
        ),
        (
            {"type": "person_created", "track": TRACK, "scope": {"company": "c"}},
            "triggers.t.scope: this trigger reads one listing",
        ),
        (
            {"type": "ticket_created", "track": TRACK, "push": {"secret": "s"}},
            "triggers.t.push: Custify pushes only",
        ),
        (
            {"type": "note_created", "track": TRACK, "since": "yesterday"},
            "triggers.t.since: must be an ISO-8601 time",
        ),
        ({"type": "note_created", "track": TRACK, "share": 0}, "triggers.t.share: must be above 0"),
        (
            {"type": "note_created", "track": TRACK, "backfill": 5, "since": "2026-01-01"},
            "triggers.t: backfill and since cannot both be set",
        ),
        (
            {"type": "note_created", "webhook": "ftp://x"},
            "triggers.t.webhook: must be an http:// or https:// URL",
        ),
    ],
)
def test_a_mistake_is_reported_with_its_key_path(trigger: dict[str, Any], expected: str) -> None:
    found = problems(t=trigger)
    assert any(p.startswith(expected) for p in found), found
