"""Custify sandbox: custom-attribute key and value rules, the 250-field cap, first-seen type locking
and default-field types (docs/custify-api.md, "Attribute types and limits"), over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def attributes(
    custify: httpx.Client, values: dict[str, Any], user_id: str = "u1"
) -> httpx.Response:
    return custify.post("/people", json={"user_id": user_id, "custom_attributes": values})


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"a.b": 1}, "'.' or '$'"),
        ({"$set": 1}, "'.' or '$'"),
        ({"12345": 1}, "all digits"),
        ({"k" * 191: 1}, "190"),
        ({"obj": {"a": 1}}, "objects and arrays"),
        ({"list": [1, 2]}, "objects and arrays"),
        ({"long": "x" * 256}, "255"),
        ({"renewal_at": "soon"}, "Date"),
        ({"price": {"value": 100, "currency": "USD"}}, "objects and arrays"),
    ],
)
def test_invalid_custom_attributes_are_rejected(
    custify: httpx.Client, values: dict[str, Any], fragment: str
) -> None:
    response = attributes(custify, values)
    assert response.status_code == 400 and fragment in response.json()["message"]
    assert custify.get("/__sandbox/state").json()["people"] == []


def test_limits_themselves_are_allowed(custify: httpx.Client) -> None:
    values = {"k" * 190: "x" * 255, "a1": None, "flag": True}
    response = attributes(custify, values)
    assert response.status_code == 200 and response.json()["custom_attributes"] == values


def test_at_most_250_custom_fields_per_person(custify: httpx.Client) -> None:
    assert attributes(custify, {f"f{n}": n for n in range(200)}).status_code == 200
    assert attributes(custify, {f"g{n}": n for n in range(50)}).status_code == 200
    over = attributes(custify, {"one_more": 1})
    assert over.status_code == 400 and "250" in over.json()["message"]
    assert attributes(custify, {"f0": 99}).status_code == 200


def test_first_value_locks_the_type_and_later_values_convert(custify: httpx.Client) -> None:
    first = attributes(
        custify, {"seats": "7", "trial": "TRUE", "since": "2024-01-02 10:30", "plan": 5}
    )
    assert first.json()["custom_attributes"] == {
        "seats": 7,
        "trial": True,
        "since": "2024-01-02T10:30:00.000Z",
        "plan": 5,
    }
    again = attributes(
        custify, {"seats": 9.5, "trial": False, "since": "2024-03-01T08:00:00+02:00"}, "u2"
    )
    assert again.json()["custom_attributes"] == {
        "seats": 9.5,
        "trial": False,
        "since": "2024-03-01T06:00:00.000Z",
    }
    for values, kind in [
        ({"seats": "many"}, "Number"),
        ({"trial": "yes"}, "Boolean"),
        ({"since": 5}, "Date"),
    ]:
        response = attributes(custify, values, "u3")
        assert response.status_code == 400 and kind in response.json()["message"]
    assert custify.get("/__sandbox/state").json()["attribute_types"]["people"] == {
        "seats": "Number",
        "trial": "Boolean",
        "since": "Date",
        "plan": "Number",
    }


def test_string_type_accepts_any_scalar_as_text(custify: httpx.Client) -> None:
    attributes(custify, {"tier": "gold"})
    response = attributes(custify, {"tier": 3}, "u2")
    assert response.json()["custom_attributes"] == {"tier": "3"}


def test_a_rejected_request_locks_no_type(custify: httpx.Client) -> None:
    assert attributes(custify, {"score": "high", "bad.key": 1}).status_code == 400
    response = attributes(custify, {"score": 10})
    assert response.status_code == 200 and response.json()["custom_attributes"] == {"score": 10}


def test_people_and_companies_lock_types_separately(custify: httpx.Client) -> None:
    attributes(custify, {"region": 1})
    company = custify.post(
        "/company", json={"company_id": "c1", "custom_attributes": {"region": "EU"}}
    )
    assert company.status_code == 200 and company.json()["custom_attributes"] == {"region": "EU"}


def test_companies_take_currency_values(custify: httpx.Client) -> None:
    value = {"value": 100, "currency": "USD"}
    response = custify.post(
        "/company", json={"company_id": "c1", "custom_attributes": {"arr": value}}
    )
    assert response.status_code == 200 and response.json()["custom_attributes"] == {"arr": value}
    plain = custify.post("/company", json={"company_id": "c2", "custom_attributes": {"arr": 100}})
    assert plain.status_code == 400 and "Currency" in plain.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "u1", "session_count": 2**31},
        {"user_id": "u1", "session_count": "many"},
        {"user_id": "u1", "unsubscribed_from_emails": "maybe"},
        {"user_id": "u1", "signed_up_at": "30/05/2019"},
        {"user_id": "u1", "signed_up_at": "2024-02-30"},
        {"user_id": "u1", "signed_up_at": "0001-01-01T00:00:00+02:00"},
        {"user_id": "u1", "name": "n" * 256},
        {"user_id": ["u1"]},
        {"user_id": "u1", "companies": {"company_id": "c1"}},
        {"user_id": "u1", "custom_attributes": ["a"]},
    ],
)
def test_default_people_fields_are_typed(custify: httpx.Client, body: dict[str, Any]) -> None:
    assert custify.post("/people", json=body).status_code == 400


def test_default_fields_accept_what_rudderstack_sends(custify: httpx.Client) -> None:
    body = {
        "user_id": 42,
        "phone": 9830311522,
        "session_count": "23",
        "unsubscribed_from_calls": "false",
        "signed_up_at": "2022-04-27T13:56:13.012Z",
    }
    person = custify.post("/people", json=body).json()
    assert (person["user_id"], person["phone"], person["session_count"]) == ("42", "9830311522", 23)
    assert person["unsubscribed_from_calls"] is False
    assert person["signed_up_at"] == "2022-04-27T13:56:13.012Z"
