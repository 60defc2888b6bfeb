"""The Custify transform beyond RudderStack's own cases: filters, options, carry-over, quirks."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from csroute.destinations.base import Rejection, Request
from csroute.destinations.custify import Settings, check, transform
from csroute.destinations.registry import parse_settings

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)

KEY = "ck_live_0123456789abcdef"
TS = "2026-01-02T03:04:05.000Z"


def settings(**overrides: Any) -> Settings:
    return Settings(api_key=KEY, **overrides)


def run(event: dict[str, Any], remembered: dict[str, Any] | None = None, **overrides: Any) -> Any:
    """Transform and return the bodies (or the rejection); also proves the event is untouched."""
    before = copy.deepcopy(event)
    result = transform(event, settings(**overrides), remembered or {})
    assert event == before, "transform must not modify the event"
    if isinstance(result, Rejection):
        return result
    return [r.body for r in result]


def identify(**fields: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": "m-1", "timestamp": TS, **fields}


def track(**fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Signed In", "messageId": "m-2", "timestamp": TS, **fields}


def group(**fields: Any) -> dict[str, Any]:
    return {"type": "group", "messageId": "m-3", "timestamp": TS, **fields}


# -- identify -----------------------------------------------------------------------------------


def test_custom_attributes_filter() -> None:
    traits = {
        "email": "a@x.io",
        "userId": "u1",
        "phone": "+40",
        "name": "Ann",
        "signed_up_at": "2020-01-01",
        "session_count": 3,
        "unsubscribed_from_emails": True,
        "unsubscribed_from_calls": True,
        "company": {"id": "c1"},
        "plan": "pro",
        "blank": "",
        "zero": 0,
        "no": False,
        "gone": None,
        "nested": {"a": 1},
        "listed": [1],
        "sessionCount": 4,
        "firstName": "Ann",
    }
    (body,) = run(identify(userId="u1", traits=traits))
    # Q2 (matched): mapped camelCase traits stay in custom attributes too.
    assert body["custom_attributes"] == {
        "plan": "pro",
        "blank": "",
        "zero": 0,
        "no": False,
        "sessionCount": 4,
        "firstName": "Ann",
    }


def test_empty_traits_hide_context_traits_and_keep_empty_attributes() -> None:
    """Q10 (matched): a present `traits`, even {}, is the attribute and company source."""
    event = identify(
        userId="u1", traits={}, context={"traits": {"plan": "x", "company": {"id": 9}}}
    )
    (body,) = run(event)
    assert body["custom_attributes"] == {}
    assert "companies" not in body


def test_identify_mapping_and_name_composition() -> None:
    event = identify(
        userId="u1",
        traits={"email": "a@x.io", "firstName": "Ann", "last_name": "Lee", "signedUpAt": "2019"},
        context={"traits": {"phone": 123, "unsubscribedFromCalls": False}},
    )
    (body,) = run(event)
    assert {k: v for k, v in body.items() if k != "custom_attributes"} == {
        "user_id": "u1",
        "email": "a@x.io",
        "phone": 123,
        "unsubscribed_from_calls": False,
        "name": "Ann Lee",
        "signed_up_at": "2019",
    }


def test_snake_case_traits_fill_in_where_camel_case_is_missing() -> None:
    """Q3 (deviation): RudderStack discards these and falls back to the event timestamp."""
    traits = {"signed_up_at": "2020-05-05", "session_count": 7, "unsubscribed_from_emails": True}
    (body,) = run(identify(userId="u1", traits=traits))
    assert body["signed_up_at"] == "2020-05-05"
    assert body["session_count"] == 7
    assert body["unsubscribed_from_emails"] is True
    both = {"signedUpAt": "2021", "signed_up_at": "2020", "sessionCount": 1, "session_count": 2}
    (body,) = run(identify(userId="u1", traits=both))
    assert (body["signed_up_at"], body["session_count"]) == ("2021", 1)


@pytest.mark.parametrize(
    ("company", "group_id", "companies"),
    [
        ({"id": "c1"}, None, [{"company_id": "c1", "remove": False}]),
        ({"id": "c1", "remove": True}, "g9", [{"company_id": "c1", "remove": True}]),
        ({"id": "c1", "remove": "true"}, None, [{"company_id": "c1", "remove": "true"}]),  # Q9
        ({"remove": True}, "g9", [{"company_id": "g9", "remove": True}]),
        (None, "g9", [{"company_id": "g9", "remove": False}]),
        ({"id": ""}, None, None),
        ("Acme", None, None),
    ],
)
def test_company_association_and_remove(
    company: Any, group_id: str | None, companies: list[dict[str, Any]] | None
) -> None:
    traits: dict[str, Any] = {"email": "a@x.io"}
    if company is not None:
        traits["company"] = company
    event = identify(userId="u1", traits=traits)
    if group_id is not None:
        event["groupId"] = group_id
    (body,) = run(event)
    assert body.get("companies") == companies
    assert "company" not in body["custom_attributes"]


def test_identify_needs_a_user_id_or_an_email() -> None:
    event = identify(anonymousId="anon-1", traits={"plan": "pro"})
    assert run(event) == Rejection("Email or userId is mandatory", 400)
    (body,) = run(identify(traits={"email": "a@x.io"}))
    assert body["email"] == "a@x.io" and "user_id" not in body


def test_user_id_chain_reads_traits() -> None:
    (body,) = run(identify(traits={"id": 42}, context={"traits": {"userId": "ctx"}}))
    assert body["user_id"] == 42  # Q9: no type coercion


def test_numeric_user_id_zero_is_a_user_id() -> None:
    """Q8 (deviation): RudderStack's truthiness check rejects userId 0."""
    (body,) = run(identify(userId=0))
    assert body["user_id"] == 0


# -- anonymousId fallback -----------------------------------------------------------------------


def test_anonymous_id_fallback() -> None:
    assert run(track(anonymousId="anon-1")) == Rejection("Email or userId is mandatory", 400)
    (body,) = run(track(anonymousId="anon-1"), send_anonymous_id=True)
    assert body["user_id"] == "anon-1"
    assert body["metadata"] == {"user_id": "anon-1"}
    (body,) = run(track(userId="u1", anonymousId="anon-1"), send_anonymous_id=True)
    assert body["user_id"] == "u1"
    (body,) = run(identify(anonymousId="anon-1"), send_anonymous_id=True)
    assert body["user_id"] == "anon-1"
    _company, person = run(group(groupId="g1", anonymousId="anon-1"), send_anonymous_id=True)
    assert person["user_id"] == "anon-1"


# -- track --------------------------------------------------------------------------------------


def test_track_mapping() -> None:
    event = track(
        userId="u1",
        properties={
            "companyId": "c2",
            "company_id": "c1",
            "plan": "pro",
            "count": 0,
            "flag": False,
            "note": "",
            "gone": None,
            "nested": {"a": 1},
            "email": "p@x.io",
        },
        groupId="ignored",  # Q13 (matched)
    )
    (body,) = run(event, deduplication=False)
    assert body == {
        "user_id": "u1",
        "email": "p@x.io",
        "name": "Signed In",
        "created_at": TS,
        "company_id": "c1",
        # Q1 (deviation): 0, false and "" are kept; RudderStack drops them.
        "metadata": {
            "companyId": "c2",
            "company_id": "c1",
            "plan": "pro",
            "count": 0,
            "flag": False,
            "note": "",
            "email": "p@x.io",
            "user_id": "u1",
        },
    }


def test_track_keeps_the_events_own_user_id_property() -> None:
    (body,) = run(track(userId="u1", properties={"userId": "other"}))
    assert body["metadata"] == {"userId": "other"}
    (body,) = run(track(traits={"email": "a@x.io"}))
    assert body["metadata"] == {}  # identified by email only: no metadata.user_id


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (track(userId="u1", event=""), 'Missing required value from "event"'),
        ({"type": "track", "userId": "u1"}, 'Missing required value from "event"'),
        (
            {"type": "track", "event": "E", "userId": "u1"},
            'Missing required value from ["timestamp","originalTimestamp"]',
        ),
        ({"type": "track", "event": "E", "timestamp": TS}, "Email or userId is mandatory"),
        ({"userId": "u1"}, "Message Type is not present. Ignoring message."),
        ({"type": "", "userId": "u1"}, "Message Type is not present. Ignoring message."),
        ({"type": "alias", "userId": "u1"}, "Message type not supported"),
        ({"type": 7, "userId": "u1"}, "Message type not supported"),  # Q7 (deviation)
        (group(userId="u1"), "groupId Id is mandatory"),
    ],
)
def test_invalid_events_get_rudderstacks_messages(event: dict[str, Any], message: str) -> None:
    assert run(event) == Rejection(message, 400)


def test_type_is_case_insensitive_and_timestamps_fall_back() -> None:
    event = {"type": "TRACK", "event": "E", "userId": "u1", "originalTimestamp": "t0"}
    (body,) = run(event)
    assert body["created_at"] == "t0"
    event = {"type": "track", "event": "E", "userId": "u1", "receivedAt": "t1"}
    (body,) = run(event)
    assert body["created_at"] == "t1"


# -- deduplication ------------------------------------------------------------------------------


def test_deduplication_is_on_by_default_with_message_id() -> None:
    (body,) = run(track(userId="u1"))
    assert body["deduplication_id"] == "m-2"
    (body,) = run(track(userId="u1"), deduplication=False)
    assert "deduplication_id" not in body


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("properties.order_id", "o-7"),
        ("context.externalId.0.id", "ext-1"),
        ("context.externalId.5.id", "m-2"),
        ("properties.missing", "m-2"),
        ("properties.empty", "m-2"),
        ("", "m-2"),
    ],
)
def test_deduplication_field_path_with_message_id_fallback(field: str, expected: str) -> None:
    event = track(
        userId="u1",
        properties={"order_id": "o-7", "empty": ""},
        context={"externalId": [{"id": "ext-1", "type": "x"}]},
    )
    (body,) = run(event, deduplication_field=field)
    assert body["deduplication_id"] == expected


def test_deduplication_applies_only_to_events() -> None:
    (body,) = run(identify(userId="u1"))
    assert "deduplication_id" not in body


# -- page and screen ----------------------------------------------------------------------------


def test_page_and_screen_are_rejected_by_default_with_a_reason() -> None:
    result = run({"type": "page", "userId": "u1", "name": "Home", "timestamp": TS})
    assert isinstance(result, Rejection) and result.status == 400
    assert result.message.startswith("Message type not supported")
    assert "page_and_screen: track" in result.message
    screen = run({"type": "screen", "userId": "u1", "timestamp": TS})
    assert "screen" in screen.message


def test_page_and_screen_as_events() -> None:
    page = {
        "type": "page",
        "userId": "u1",
        "name": "Pricing",
        "messageId": "m-9",
        "timestamp": TS,
        "properties": {"path": "/pricing", "title": "Pricing"},
    }
    (body,) = run(page, page_and_screen="track")
    assert body == {
        "user_id": "u1",
        "name": "Viewed Pricing Page",
        "created_at": TS,
        "deduplication_id": "m-9",
        "metadata": {"path": "/pricing", "title": "Pricing", "user_id": "u1"},
    }
    screen = {"type": "screen", "userId": "u1", "timestamp": TS, "properties": {"name": "Cart"}}
    (body,) = run(screen, page_and_screen="track")
    assert body["name"] == "Viewed Cart Screen"
    (body,) = run({"type": "page", "userId": "u1", "timestamp": TS}, page_and_screen="track")
    assert body["name"] == "Viewed Page"
    bad = {"type": "page", "timestamp": TS, "name": "Home"}
    assert run(bad, page_and_screen="track") == Rejection("Email or userId is mandatory", 400)


# -- group --------------------------------------------------------------------------------------


def test_group_upserts_the_company_then_links_the_person() -> None:
    event = group(
        userId="u1",
        groupId="g1",
        traits={"name": "Acme", "url": "acme.io", "mrr": 10, "id": "g1", "tier": "a"},
        context={"traits": {"email": "a@x.io", "plan": "pro", "company": {"id": "other"}}},
    )
    result = transform(event, settings(), {})
    assert isinstance(result, list)
    assert [(r.method, r.url) for r in result] == [
        ("POST", "https://api.custify.com/company"),
        ("POST", "https://api.custify.com/people"),
    ]
    company, person = (r.body for r in result)
    assert company == {
        "company_id": "g1",
        "name": "Acme",
        "website": "acme.io",
        "monthly_revenue": 10,
        # Q2 (matched): alias keys stay in the company's custom attributes too.
        "custom_attributes": {"url": "acme.io", "mrr": 10, "tier": "a"},
    }
    assert person == {
        "user_id": "u1",
        "email": "a@x.io",
        "signed_up_at": TS,
        "custom_attributes": {"plan": "pro"},
        # Q12 (deviation): the group's own company, not context.traits.company.id.
        "companies": [{"company_id": "g1", "remove": False}],
    }


def test_group_company_id_from_traits_links_the_person() -> None:
    """Q5 (deviation): RudderStack upserts this company but does not link the user."""
    company, person = run(group(userId="u1", traits={"groupId": "g2"}))
    assert company["company_id"] == "g2"
    assert company["custom_attributes"] == {"groupId": "g2"}
    assert person["companies"] == [{"company_id": "g2", "remove": False}]


def test_group_remove_flag_applies_to_the_same_company() -> None:
    ctx = {"traits": {"company": {"id": "g1", "remove": True}}}
    _company, person = run(group(userId="u1", groupId="g1", context=ctx))
    assert person["companies"] == [{"company_id": "g1", "remove": True}]


def test_group_user_identity() -> None:
    """Group traits describe the company: their `id` never names the user (Q5, matched), their
    `userId` does; email, phone and the rest come from context.traits (Q11, matched)."""
    event = group(groupId="g1", traits={"id": "g1", "email": "billing@acme.io"})
    assert run(event) == Rejection("Email or userId is mandatory", 400)  # Q6: nothing sent
    _company, person = run(group(groupId="g1", traits={"userId": "u7"}))
    assert person["user_id"] == "u7"
    event = group(
        groupId="g1",
        traits={"firstName": "Group"},
        context={"traits": {"id": "u8", "firstName": "Ctx", "lastName": "Last", "phone": 5}},
    )
    _company, person = run(event)
    assert (person["user_id"], person["name"], person["phone"]) == ("u8", "Group Last", 5)


# -- traits carry-over --------------------------------------------------------------------------


def test_remembered_email_fills_in_only_where_the_event_has_none() -> None:
    remembered = {"email": "known@x.io", "plan": "pro"}
    (body,) = run(track(userId="u1"), remembered)
    assert body["email"] == "known@x.io"
    (body,) = run(track(userId="u1", properties={"email": "own@x.io"}), remembered)
    assert body["email"] == "own@x.io"
    (body,) = run(identify(userId="u1"), remembered)
    assert body["email"] == "known@x.io"
    assert "custom_attributes" not in body  # only the email carries over
    _company, person = run(group(userId="u1", groupId="g1"), remembered)
    assert person["email"] == "known@x.io"


def test_remembered_email_lets_an_anonymous_users_track_through() -> None:
    event = track(anonymousId="anon-1")
    assert run(event) == Rejection("Email or userId is mandatory", 400)
    (body,) = run(event, {"email": "known@x.io"})
    assert body["email"] == "known@x.io" and "user_id" not in body


# -- rETL, base URL, purity ---------------------------------------------------------------------


def test_mapped_to_destination_sends_traits_as_the_body() -> None:
    """Q5 (deviation): the traits go as sent (RudderStack sends them after its filter)."""
    event = identify(
        userId="u1",
        traits={"plan": "pro", "custom_attributes": {"a": 1}, "name": "Ann"},
        context={
            "mappedToDestination": True,
            "externalId": [{"identifierType": "email", "id": "ext@x.io"}],
        },
    )
    (body,) = run(event)
    assert body == {
        "plan": "pro",
        "custom_attributes": {"a": 1},
        "name": "Ann",
        "email": "ext@x.io",
    }


def test_base_url_and_headers() -> None:
    result = transform(track(userId="u1"), settings(base_url="https://api.eu.example/"), {})
    assert isinstance(result, list)
    (request,) = result
    assert request.url == "https://api.eu.example/event"
    assert dict(request.headers) == {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {KEY}",
        "Accept": "application/json",
    }
    assert request.params == {}


def test_requests_encode_as_json() -> None:
    result = transform(group(userId="u1", groupId="g1"), settings(), {})
    assert isinstance(result, list)
    assert all(isinstance(r, Request) for r in result)
    msgspec.json.encode([r.to_json() for r in result])


# -- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({}, "api_key: is required but missing"),
        ({"api_key": ""}, "api_key: must be text that is not empty (got empty text)"),
        ({"api_key": "   "}, "api_key: must not be blank"),
        ({"api_key": KEY, "apiKey": KEY}, "apiKey: unknown key (did you mean api_key?)"),
        ({"api_key": KEY, "base_url": "api.custify.com"}, "base_url: must start with https://"),
        ({"api_key": KEY, "batch_size": 0}, "batch_size: must be at least 1 (got 0)"),
        (
            {"api_key": KEY, "batch_check_every": -1},
            "batch_check_every: must be 0 (never) or more (got -1)",
        ),
        (
            {"api_key": KEY, "batch_check_delay_s": 21600},
            "batch_check_delay_s: must be from 0 to under 21600",
        ),
        (
            {"api_key": KEY, "batch_synchronous": True},
            "batch_size: synchronous batches hold at most 3 jobs (got 100)",
        ),
        (
            {"api_key": KEY, "page_and_screen": "drop"},
            "page_and_screen: must be one of reject, track (got 'drop')",
        ),
    ],
)
def test_configuration_errors(raw: dict[str, Any], problem: str) -> None:
    _settings, problems = parse_settings("custify", raw)
    assert len(problems) == 1 and problems[0].startswith(problem)
    assert all(KEY not in p for p in problems)


def test_defaults() -> None:
    s, problems = parse_settings("custify", {"api_key": KEY})
    assert problems == [] and check(s) == []
    assert (s.send_anonymous_id, s.deduplication, s.page_and_screen) == (False, True, "reject")
    assert (s.base_url, s.batch_size, s.batch_synchronous) == (
        "https://api.custify.com",
        100,
        False,
    )
    assert (s.rate_limit_requests, s.rate_limit_window_s) == (100, 10)
