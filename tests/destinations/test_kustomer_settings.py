"""Configuration checks and the delivery facts: refusals name the key, errors say what to do."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec
import pytest

from csroute.destinations.kustomer import TYPE
from csroute.destinations.kustomer.settings import Settings

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)


def settings(**overrides: Any) -> Settings:
    return msgspec.convert({"org_name": "acme", "api_key": "k-secret-123", **overrides}, Settings)


def test_a_good_configuration_has_no_problems() -> None:
    assert TYPE.check(settings()) == []
    assert TYPE.check(settings(base_url="https://api.prod2.kustomerapp.com")) == []


def test_api_key_is_a_secret_and_required() -> None:
    assert TYPE.secret_settings == frozenset({"api_key"})
    assert TYPE.remembers_traits
    with pytest.raises(msgspec.ValidationError, match="api_key"):
        msgspec.convert({"org_name": "acme"}, Settings)
    assert TYPE.check(settings(api_key="  ")) == ["api_key: must not be empty"]


@pytest.mark.parametrize("org", ["", "Acme", "acme.kustomerapp.com", "https://acme"])
def test_org_name_must_be_a_subdomain(org: str) -> None:
    [problem] = TYPE.check(settings(org_name=org))
    assert problem.startswith("org_name: must be the Kustomer subdomain")


def test_rate_limit_defaults_to_the_smallest_plan() -> None:
    assert settings().rate_limit_per_minute == 300
    assert TYPE.check(settings(rate_limit_per_minute=0))[0].startswith("rate_limit_per_minute")


def test_event_names_must_start_with_a_letter() -> None:
    problems = TYPE.check(settings(event_names={"Order Completed": "2nd order"}))
    assert problems == [
        "event_names.Order Completed: Kustomer event names must start with a letter "
        "(got '2nd order')"
    ]


@pytest.mark.parametrize(
    ("key", "path", "expected"),
    [
        ("total", "properties.revenue", "must end in 'Num' (e.g. 'totalNum')"),
        ("placed", "timestamp", "must end in 'At' (e.g. 'placedAt')"),
        ("currencyNum", "properties.currency", "must not end in 'Num' or 'At' (e.g. 'currency')"),
        ("order_id", "properties.order_id", "must be camelCase"),
        ("occurredAt", "timestamp", "always set by csroute"),
        ("thing", "properties..x", "is not an event path"),
    ],
)
def test_field_mappings_breaking_the_rules_are_refused_naming_the_key(
    key: str, path: str, expected: str
) -> None:
    [problem] = TYPE.check(settings(field_mappings={"Order Completed": {key: path}}))
    assert problem.startswith(f"field_mappings.Order Completed.{key}: ")
    assert expected in problem


def test_field_mappings_that_keep_the_suffixes_are_accepted() -> None:
    mappings = {"*": {"totalNum": "properties.revenue", "placedAt": "timestamp",
                      "pageUrl": "context.page.url", "planTier": "properties.plan"}}  # fmt: skip
    assert TYPE.check(settings(field_mappings=mappings)) == []


def test_delivery_paces_per_api_key_at_the_plan_limit() -> None:
    delivery = TYPE.delivery(settings(rate_limit_per_minute=500))
    digest = hashlib.sha256(b"k-secret-123").hexdigest()[:16]
    assert delivery.rate_limit is not None
    assert (delivery.rate_limit.requests, delivery.rate_limit.per_seconds) == (500, 60.0)
    assert delivery.rate_limit.key == f"kustomer:{digest}"
    assert delivery.batching is None
    assert [s for s in (200, 400, 401, 403, 404, 408, 429, 500, 503) if delivery.retryable(s)] == [
        408,
        429,
        500,
        503,
    ]


def explain(status: int, body: Any = b"", **overrides: Any) -> str:
    text = TYPE.delivery(settings(**overrides)).explain
    assert text is not None
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    message = text(status, raw)
    assert "k-secret-123" not in message
    return message


def test_explain_401_and_403() -> None:
    assert "wrong, expired or revoked" in explain(401, {"errors": [{"message": "Expired token"}]})
    assert "Kustomer said: Expired token" in explain(
        401, {"errors": [{"message": "Expired token"}]}
    )
    assert "lacks the org.tracking role" in explain(403)


def test_explain_404_names_the_host_and_org_name() -> None:
    message = explain(404, {"errors": [{"status": "404", "title": "Not Found"}]})
    assert "https://acme.api.kustomerapp.com" in message
    assert "org_name must be your Kustomer subdomain" in message


def test_explain_400_names_the_meta_key_from_a_pointer() -> None:
    body = {"errors": [{"status": "400", "code": "bad_request", "title": "Invalid meta key",
                        "detail": "number under a key without Num",
                        "source": {"pointer": "/event/meta/revenue"}}]}  # fmt: skip
    message = explain(400, body)
    assert "the meta key 'revenue' breaks its naming rules" in message
    assert "Kustomer said: number under a key without Num" in message


def test_explain_400_names_the_meta_key_from_a_parameter() -> None:
    body = {"errors": [{"code": "bad_request", "message": "Invalid request body or parameters.",
                        "source": {"parameter": "event.meta.totalAt"}}]}  # fmt: skip
    assert "the meta key 'totalAt'" in explain(400, body)


def test_explain_400_without_details_still_advises() -> None:
    message = explain(400, b"not json")
    assert "a meta key or the event name breaks" in message
    assert "Kustomer said: not json" in message


def test_explain_429_points_at_the_plan_limit() -> None:
    assert "rate_limit_per_minute" in explain(429, {"message": "Too Many Requests"})


def test_explain_region_mismatch() -> None:
    said = "Auth token associated with pod prod2 but request is being handled by prod1"
    message = explain(401, {"errors": [{"detail": said}]})
    assert "another region" in message
    assert "https://api.prod2.kustomerapp.com" in message


def test_explain_legacy_error_body_and_server_error() -> None:
    assert "Kustomer said: boom" in explain(502, {"error": "boom"})
    assert "retried with backoff" in explain(502)
