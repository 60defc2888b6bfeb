"""Consent gating reads the common consent shapes and is opt-in: no explicit grant, no delivery."""

from __future__ import annotations

from typing import Any

import pytest

from csroute.router.consent import consent_denial

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)


def event(context: dict[str, Any] | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"type": "track", "event": "Order Completed", "messageId": "m1"}
    if context is not None:
        e["context"] = context
    return e


def rudder(allowed: Any = None, denied: Any = None, provider: str = "custom") -> dict[str, Any]:
    cm: dict[str, Any] = {"provider": provider, "resolutionStrategy": "and"}
    if allowed is not None:
        cm["allowedConsentIds"] = allowed
    if denied is not None:
        cm["deniedConsentIds"] = denied
    return {"consentManagement": cm}


def test_nothing_required_always_passes() -> None:
    assert consent_denial(event(), []) is None
    assert consent_denial(event(rudder(denied=["marketing"])), ()) is None


def test_event_without_consent_data_is_denied_when_consent_is_required() -> None:
    assert consent_denial(event(), ["marketing"]) == "consent: missing category 'marketing'"
    assert consent_denial(event({"traits": {}}), ["marketing"]) is not None
    assert consent_denial({"type": "track", "context": "oops"}, ["marketing"]) is not None


def test_rudderstack_allowed_ids_grant() -> None:
    e = event(rudder(allowed=["analytics", "marketing"], denied=["ads"]))
    assert consent_denial(e, ["marketing"]) is None
    assert consent_denial(e, ["analytics", "marketing"]) is None


def test_all_required_categories_must_be_granted() -> None:
    e = event(rudder(allowed=["analytics"]))
    assert consent_denial(e, ["analytics", "marketing"]) == "consent: missing category 'marketing'"


def test_denied_id_is_reported_as_denied() -> None:
    e = event(rudder(allowed=["analytics"], denied=["marketing"]))
    assert consent_denial(e, ["marketing"]) == "consent: category 'marketing' denied"


def test_denial_wins_over_a_grant_from_another_consent_manager() -> None:
    context = rudder(allowed=["marketing"]) | {
        "consent": {"categoryPreferences": {"Marketing": False}}
    }
    assert consent_denial(event(context), ["marketing"]) == "consent: category 'marketing' denied"


def test_only_denied_ids_grant_nothing() -> None:
    """Legacy RudderStack OneTrust SDKs send only denied ids: silence is not consent."""
    e = event(rudder(denied=["C0004"], provider="oneTrust"))
    assert consent_denial(e, ["C0002"]) == "consent: missing category 'C0002'"


def test_onetrust_group_map_from_rudderstack_js_v3_grants_ids_and_names() -> None:
    e = event(
        rudder(
            allowed={"C0001": "Strictly Necessary", "C0004": "Targeting Cookies"},
            provider="oneTrust",
        )
    )
    assert consent_denial(e, ["C0004"]) is None
    assert consent_denial(e, ["Targeting Cookies"]) is None
    assert consent_denial(e, ["C0003"]) == "consent: missing category 'C0003'"


def test_segment_category_preferences() -> None:
    context = {"consent": {"categoryPreferences": {"Advertising": True, "Analytics": False}}}
    assert consent_denial(event(context), ["Advertising"]) is None
    assert consent_denial(event(context), ["Analytics"]) == "consent: category 'Analytics' denied"
    assert consent_denial(event(context), ["Functional"]) is not None


@pytest.mark.parametrize("value", ["true", 1, None])
def test_segment_preference_must_be_literally_true(value: Any) -> None:
    context = {"consent": {"categoryPreferences": {"Advertising": value}}}
    assert consent_denial(event(context), ["Advertising"]) == (
        "consent: category 'Advertising' denied"
    )


def test_generic_category_list() -> None:
    context = {"consent": {"categories": ["analytics", "marketing"]}}
    assert consent_denial(event(context), ["marketing", "analytics"]) is None
    assert consent_denial(event(context), ["support"]) is not None


def test_categories_compare_case_insensitively() -> None:
    e = event({"consent": {"categories": ["Marketing"]}})
    assert consent_denial(e, ["marketing"]) is None
    assert consent_denial(e, ["MARKETING"]) is None


def test_malformed_consent_values_grant_nothing() -> None:
    e = event(
        {
            "consentManagement": {"allowedConsentIds": "marketing"},
            "consent": {"categories": {"marketing": "yes"}, "categoryPreferences": ["x"]},
        }
    )
    assert consent_denial(e, ["marketing"]) == "consent: missing category 'marketing'"
