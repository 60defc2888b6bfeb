"""The Kustomer mapping: identity, event names and meta, as docs/destinations/kustomer.md says."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from csroute.destinations.base import Rejection, Request
from csroute.destinations.kustomer import TYPE
from csroute.destinations.kustomer.settings import Settings

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)


def settings(**overrides: Any) -> Settings:
    return msgspec.convert({"org_name": "acme", "api_key": "k-secret-123", **overrides}, Settings)


def track(name: str, properties: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": name,
        "properties": properties,
        "userId": "user-123",
        "anonymousId": "a1b2c3d4",
        "messageId": "m-1",
        "timestamp": "2026-06-06T10:00:00Z",
        "receivedAt": "2026-06-06T10:00:01Z",
        **fields,
    }


def one(result: list[Request] | Rejection) -> Request:
    assert isinstance(result, list), result
    assert len(result) == 1
    return result[0]


def body(event: dict[str, Any], traits: dict[str, Any] | None = None, **overrides: Any) -> Any:
    return one(TYPE.transform(event, settings(**overrides), traits or {})).body


def test_worked_example_from_the_spec() -> None:
    remembered = {"email": "Jane.Doe@Example.com ", "name": "Jane Doe"}
    event = track(
        "Order Completed",
        {"order_id": "ORD-001", "revenue": 129.99, "currency": "USD", "tax": 8.50,
         "shipping": 4.99, "coupon": "SUMMER10"},
    )  # fmt: skip
    request = one(TYPE.transform(event, settings(), remembered))
    assert request.method == "POST"
    assert request.url == "https://acme.api.kustomerapp.com/v1/tracking/identityEvent"
    assert request.headers["Authorization"] == "Bearer k-secret-123"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {
        "identity": {"email": "jane.doe@example.com", "externalId": "user-123", "name": "Jane Doe"},
        "event": {
            "name": "Order Completed",
            "meta": {"orderId": "ORD-001", "revenueNum": 129.99, "currency": "USD",
                     "taxNum": 8.50, "shippingNum": 4.99, "coupon": "SUMMER10",
                     "anonymousId": "a1b2c3d4", "occurredAt": "2026-06-06T10:00:00Z"},
        },
    }  # fmt: skip


def test_base_url_overrides_the_org_host() -> None:
    request = one(TYPE.transform(track("X", {}), settings(base_url="http://127.0.0.1:9/"), {}))
    assert request.url == "http://127.0.0.1:9/v1/tracking/identityEvent"


@pytest.mark.parametrize(
    ("properties", "meta"),
    [
        ({"order_id": "A"}, {"orderId": "A"}),
        ({"Order ID": "A"}, {"orderId": "A"}),
        ({"URL": "u"}, {"url": "u"}),
        ({"quantity": 2}, {"quantityNum": 2}),
        ({"priceNum": 3.5}, {"priceNum": 3.5}),
        ({"total_at": 7}, {"totalAtNum": 7}),
        ({"delivered": "2026-06-01T08:30:00+02:00"}, {"deliveredAt": "2026-06-01T08:30:00+02:00"}),
        ({"shippedAt": "2026-06-01T08:30:00Z"}, {"shippedAt": "2026-06-01T08:30:00Z"}),
        ({"birthday": "2026-06-01"}, {"birthday": "2026-06-01"}),
        ({"codeNum": "X1"}, {"codeNumStr": "X1"}),
        ({"chatAt": "soon"}, {"chatAtStr": "soon"}),
        ({"gift": True}, {"gift": "true"}),
        ({"shipping": {"city": "P", "cost": 4}}, {"shippingCity": "P", "shippingCostNum": 4}),
        ({"tags": ["a", "b", 3]}, {"tags": "a, b, 3"}),
        ({"products": [{"sku": "1"}]}, {}),
        ({"empty": [], "nothing": None}, {}),
        ({"order_id": "A", "orderId": "B"}, {"orderId": "A"}),
    ],
)  # fmt: skip
def test_meta_rules(properties: dict[str, Any], meta: dict[str, Any]) -> None:
    got = body(track("X", properties))["event"]["meta"]
    assert got.pop("anonymousId") == "a1b2c3d4"
    assert got.pop("occurredAt") == "2026-06-06T10:00:00Z"
    assert got == meta


def test_anonymous_id_and_occurred_at_win_over_properties() -> None:
    meta = body(track("X", {"anonymousId": "forged", "occurred": "2020-01-01T00:00:00Z"}))
    assert meta["event"]["meta"]["anonymousId"] == "a1b2c3d4"
    assert meta["event"]["meta"]["occurredAt"] == "2026-06-06T10:00:00Z"


def test_occurred_at_falls_back_to_received_at() -> None:
    event = track("X", {})
    del event["timestamp"]
    assert body(event)["event"]["meta"]["occurredAt"] == "2026-06-06T10:00:01Z"


@pytest.mark.parametrize(
    ("event", "name"),
    [
        ({"type": "page", "name": "Pricing"}, "Page Viewed"),
        ({"type": "screen", "name": "Home"}, "Screen Viewed"),
        ({"type": "identify", "traits": {"email": "a@b.co"}}, "Identified"),
        ({"type": "track", "event": "Product Added"}, "Product Added"),
        ({"type": "track", "event": "Trial Started"}, "Trial Started"),
    ],
)
def test_default_name_preset(event: dict[str, Any], name: str) -> None:
    event |= {"userId": "u1", "messageId": "m", "receivedAt": "2026-06-06T10:00:00Z"}
    assert body(event)["event"]["name"] == name


def test_names_are_editable_and_the_preset_can_be_dropped() -> None:
    renamed = {"event_names": {"Order Completed": "Purchase", "Trial Started": "Trial"}}
    assert body(track("Order Completed", {}), **renamed)["event"]["name"] == "Purchase"
    assert body(track("Trial Started", {}), **renamed)["event"]["name"] == "Trial"
    assert body(track("Product Added", {}), **renamed)["event"]["name"] == "Product Added"
    page = {"type": "page", "userId": "u1", "messageId": "m"}
    assert body(page, event_name_preset="none")["event"]["name"] == "page"


@pytest.mark.parametrize(
    ("rule", "name"),
    [("keep", "Cart  Viewed"), ("dash", "Cart-Viewed"), ("underscore", "Cart_Viewed")],
)
def test_whitespace_in_names(rule: str, name: str) -> None:
    """Runs of whitespace become one dash or underscore; the ends are always trimmed."""
    assert body(track(" Cart  Viewed ", {}), event_name_whitespace=rule)["event"]["name"] == name


def test_default_keeps_spaces_like_the_datafly_preset() -> None:
    assert body(track("Order Completed", {}))["event"]["name"] == "Order Completed"


def test_name_must_start_with_a_letter() -> None:
    result = TYPE.transform(track("1-click buy", {}), settings(), {})
    assert isinstance(result, Rejection)
    assert "'1-click buy' must start with a letter" in result.message


def test_traits_carry_over_to_later_events() -> None:
    remembered = {"email": "  Jane@Example.COM", "firstName": "Jane", "lastName": "Doe"}
    identity = body(track("Logged In", {}), remembered)["identity"]
    assert identity == {"email": "jane@example.com", "externalId": "user-123", "name": "Jane Doe"}


def test_the_events_own_traits_win_over_remembered_ones() -> None:
    event = track("Logged In", {}, context={"traits": {"email": "new@example.com"}})
    identity = body(event, {"email": "old@example.com", "name": "Jane"})["identity"]
    assert identity["email"] == "new@example.com"
    assert identity["name"] == "Jane"


def test_identify_uses_its_own_traits() -> None:
    event = {"type": "identify", "userId": 42, "messageId": "m",
             "traits": {"email": "X@Y.io", "name": "Xi"}}  # fmt: skip
    assert body(event)["identity"] == {"email": "x@y.io", "externalId": "42", "name": "Xi"}


def test_email_alone_identifies_an_anonymous_visitor() -> None:
    event = track("Signed Up", {}, context={"traits": {"email": "v@example.com"}})
    del event["userId"]
    assert body(event)["identity"] == {"email": "v@example.com"}


def test_event_without_email_or_user_id_is_rejected_with_advice() -> None:
    event = track("Product Viewed", {})
    del event["userId"]
    result = TYPE.transform(event, settings(), {})
    assert isinstance(result, Rejection)
    assert "call identify" in result.message


@pytest.mark.parametrize("kind", ["group", "alias"])
def test_group_and_alias_are_rejected(kind: str) -> None:
    result = TYPE.transform({"type": kind, "userId": "u", "messageId": "m"}, settings(), {})
    assert isinstance(result, Rejection)
    assert f"no {kind} call" in result.message


def test_session_id_is_passed_on() -> None:
    assert body(track("X", {}, context={"sessionId": 1717}))["event"]["sessionId"] == "1717"


def test_field_mappings_rename_and_coerce() -> None:
    mappings = {
        "*": {"pageUrl": "context.page.url"},
        "Order Completed": {"totalNum": "properties.revenue", "refNum": "properties.ref"},
    }
    event = track("Order Completed", {"revenue": "19.90", "ref": "7", "currency": "EUR"},
                  context={"page": {"url": "https://shop.example/checkout"}})  # fmt: skip
    meta = body(event, field_mappings=mappings)["event"]["meta"]
    assert meta["totalNum"] == 19.90
    assert meta["refNum"] == 7
    assert meta["pageUrl"] == "https://shop.example/checkout"
    assert meta["currency"] == "EUR"
    assert "revenueNum" not in meta
    assert "ref" not in meta


def test_field_mapping_that_cannot_fit_its_suffix_rejects_the_event() -> None:
    mappings = {"Order Completed": {"totalNum": "properties.total"}}
    event = track("Order Completed", {"total": "a lot"})
    result = TYPE.transform(event, settings(field_mappings=mappings), {})
    assert isinstance(result, Rejection)
    assert "'totalNum' ends in 'Num'" in result.message
    assert "properties.total" in result.message


def test_transform_is_pure_and_repeatable() -> None:
    event = track("Order Completed", {"shipping": {"city": "Paris"}})
    snapshot = msgspec.json.encode(event)
    first = body(event)
    assert body(event) == first
    assert msgspec.json.encode(event) == snapshot


@pytest.mark.parametrize("context", [None, [], "x"])
def test_odd_context_values_are_ignored(context: Any) -> None:
    assert body(track("X", {}, context=context))["identity"] == {"externalId": "user-123"}
