"""One event in, the Custify requests that carry it out, in delivery order. No I/O.

The field mapping is RudderStack's Custify destination, value for value
(docs/destinations/custify.md), so a pipeline moved from RudderStack writes the same people,
companies and events. Where csroute deliberately differs, a comment names the quirk id (Q1 to Q19);
docs/destinations/custify.md gives the reason for each.

Lookup rule everywhere: the first value that is neither absent, null nor ``""`` wins, so ``0``
and ``false`` count (Q8: RudderStack's truthiness tests treat them as missing in places).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from csroute.destinations.base import Rejection, Request, Traits
from csroute.destinations.custify.endpoints import NO_PARAMS, Endpoints, endpoints
from csroute.destinations.custify.settings import Settings
from csroute.events.model import Event

Source = Mapping[str, Any] | None

NO_TYPE = Rejection("Message Type is not present. Ignoring message.")
UNSUPPORTED = Rejection("Message type not supported")
NO_IDENTITY = Rejection("Email or userId is mandatory")
NO_EVENT_NAME = Rejection('Missing required value from "event"')
NO_TIMESTAMP = Rejection('Missing required value from ["timestamp","originalTimestamp"]')
NO_GROUP_ID = Rejection("groupId Id is mandatory")
PAGE_REJECTED = {
    kind: Rejection(
        f"Message type not supported: Custify has no {kind} views; "
        f"set page_and_screen: track to send {kind} events as Custify events"
    )
    for kind in ("page", "screen")
}

# Trait names that never become custom attributes (RudderStack's reserved lists).
PERSON_RESERVED = frozenset(
    {
        "userId",
        "email",
        "phone",
        "name",
        "signed_up_at",
        "session_count",
        "unsubscribed_from_emails",
        "unsubscribed_from_calls",
        "company",
    }
)
COMPANY_RESERVED = frozenset(
    {
        "id",
        "name",
        "industry",
        "company_id",
        "size",
        "website",
        "plan",
        "monthly_revenue",
        "churned",
    }
)

_FIRST_NAME = ("firstName", "firstname", "first_name")
_LAST_NAME = ("lastName", "lastname", "last_name")
_USER_ID = ("userId", "id")
_USER_ID_PROPERTIES = ("user_id", "userId")
_EMAIL = ("email",)
_PHONE = ("phone",)
_NAME = ("name",)
_EVENT_COMPANY = ("organization_id", "company_id", "companyId")
_REVENUE = ("monthly_revenue", "monthlyRevenue", "mrr")
_WEBSITE = ("website", "url")


def transform(event: Event, settings: Settings, traits: Traits) -> list[Request] | Rejection:
    """Map one event. ``traits`` are the user's remembered identify traits (email carry-over)."""
    kind = event.get("type")
    if kind is None or kind == "":
        return NO_TYPE
    if not isinstance(kind, str):  # Q7: RudderStack crashes with a 500 here
        return UNSUPPORTED
    kind = kind.lower()
    ends = endpoints(settings)
    result: list[Request] | Rejection
    if kind == "track":
        result = _track(event, settings, ends, traits, event.get("event"))
    elif kind == "identify":
        result = _identify(event, settings, ends, traits)
    elif kind == "group":
        result = _group(event, settings, ends, traits)
    elif kind in PAGE_REJECTED:
        if settings.page_and_screen == "reject":
            return PAGE_REJECTED[kind]
        result = _track(event, settings, ends, traits, _view_name(event, kind))
    else:
        return UNSUPPORTED
    if isinstance(result, list):
        context = event.get("context")
        if isinstance(context, dict) and context.get("mappedToDestination"):
            last = result[-1]
            result[-1] = Request(last.method, last.url, last.headers, last.params, _mapped(event))
    return result


# -- lookups ------------------------------------------------------------------------------------


def _usable(value: Any) -> bool:
    return value is not None and value != ""


def _first(sources: Sequence[Source], keys: Sequence[str]) -> Any:
    """The first usable value of ``keys`` in each source, sources first (RudderStack's order)."""
    for source in sources:
        if source:
            for key in keys:
                value = source.get(key)
                if value is not None and value != "":
                    return value
    return None


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _context_traits(event: Event) -> dict[str, Any] | None:
    context = event.get("context")
    return _dict(context.get("traits")) if isinstance(context, dict) else None


def _user_id(event: Event, sources: Sequence[Source]) -> Any:
    """The user id chain: top-level ``userId``, then ``userId``/``id`` of each traits source.
    None when nothing usable is found (as with every lookup here)."""
    user_id = event.get("userId")
    if user_id is None or user_id == "":
        return _first(sources, _USER_ID)
    return user_id


def _or_anonymous(event: Event, settings: Settings, user_id: Any) -> Any:
    """The anonymousId fallback, used only when no user id was found (and it is enabled)."""
    if user_id is None and settings.send_anonymous_id:
        anonymous_id = event.get("anonymousId")
        if _usable(anonymous_id):
            return anonymous_id
    return user_id


def _email(sources: Sequence[Source], remembered: Traits) -> Any:
    """The event's email, else the one remembered from the user's identify (carry-over)."""
    email = _first(sources, _EMAIL)
    if email is None and remembered:
        email = remembered.get("email")
        if email == "":
            email = None
    return email


def _attributes(source: Mapping[str, Any], reserved: frozenset[str]) -> dict[str, Any]:
    """Custom attributes: everything but reserved names and null/object/array values."""
    return {
        key: value
        for key, value in source.items()
        if key not in reserved and value is not None and not isinstance(value, dict | list)
    }


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def _path(event: Event, path: Sequence[str]) -> Any:
    """The value at a dot path (``context.externalId.0.id``), or None."""
    value: Any = event
    for part in path:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


# -- people -------------------------------------------------------------------------------------


def _person(
    event: Event,
    user_id: Any,
    email: Any,
    sources: Sequence[Source],
    phone_sources: Sequence[Source],
    name_sources: Sequence[Source],
    attributes_source: Source,
    companies: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """A ``POST /people`` body. ``sources`` feed the standard fields, ``name_sources`` the
    first/last name fallback, ``attributes_source`` the custom attributes."""
    name = _first(sources, _NAME)
    if name is None:
        first, last = _first(name_sources, _FIRST_NAME), _first(name_sources, _LAST_NAME)
        name = f"{first} {last}" if first and last else first or last
    # Q3: the snake_case traits are reserved but RudderStack never maps them; csroute falls
    # back to them where the camelCase chain found nothing.
    signed_up_at = _first(sources, ("signedUpAt",))
    if signed_up_at is None:
        signed_up_at = _first(sources, ("signed_up_at",))
        if signed_up_at is None:
            signed_up_at = _first((event,), ("timestamp", "originalTimestamp"))
    return _compact(
        {
            "user_id": user_id,
            "email": email,
            "phone": _first(phone_sources, _PHONE),
            "session_count": _camel_or_snake(sources, "sessionCount", "session_count"),
            "unsubscribed_from_emails": _camel_or_snake(
                sources, "unsubscribedFromEmails", "unsubscribed_from_emails"
            ),
            "unsubscribed_from_calls": _camel_or_snake(
                sources, "unsubscribedFromCalls", "unsubscribed_from_calls"
            ),
            "name": name,
            "signed_up_at": signed_up_at,
            "custom_attributes": (
                None
                if attributes_source is None
                else _attributes(attributes_source, PERSON_RESERVED)
            ),
            "companies": companies,
        }
    )


def _camel_or_snake(sources: Sequence[Source], camel: str, snake: str) -> Any:
    value = _first(sources, (camel,))
    return _first(sources, (snake,)) if value is None else value


def _link(company: Any, fallback_id: Any) -> list[dict[str, Any]] | None:
    """``companies`` from a traits ``company`` object: its id (else ``fallback_id``) and its
    ``remove`` flag as given, default false (Q17: Custify does the lookup)."""
    company_id, remove = None, False
    if isinstance(company, dict):
        company_id = company.get("id")
        remove = company.get("remove", False)
    if not _usable(company_id):
        company_id = fallback_id
    if not _usable(company_id):
        return None
    return [{"company_id": company_id, "remove": remove}]


def _identify(
    event: Event, settings: Settings, ends: Endpoints, remembered: Traits
) -> list[Request] | Rejection:
    traits = _dict(event.get("traits"))
    context_traits = _context_traits(event)
    sources = (traits, context_traits)
    user_id = _or_anonymous(event, settings, _user_id(event, sources))
    properties = _dict(event.get("properties"))
    email = _email((traits, context_traits, properties), remembered)
    if user_id is None and email is None:
        return NO_IDENTITY
    # Q10: a present `traits` (even {}) hides context.traits for attributes and company.
    holder = traits if traits is not None else context_traits
    companies = _link(holder.get("company") if holder else None, event.get("groupId"))
    body = _person(
        event,
        user_id,
        email,
        sources,
        (traits, context_traits, properties),
        sources,
        holder,
        companies,
    )
    return [Request("POST", ends.people, ends.headers, NO_PARAMS, body)]


# -- group --------------------------------------------------------------------------------------


def _group(
    event: Event, settings: Settings, ends: Endpoints, remembered: Traits
) -> list[Request] | Rejection:
    """Company upsert, then the person upsert that links the user to that company.

    Both Custify endpoints create what is missing, so the pair achieves RudderStack's documented
    promise (Q16): whether or not user and company exist, the user ends up in the company.
    """
    group_traits = _dict(event.get("traits"))
    company_id = event.get("groupId")
    if not _usable(company_id):
        company_id = _first((group_traits,), ("groupId",))
        if company_id is None:
            return NO_GROUP_ID
    context_traits = _context_traits(event)
    # Group traits describe the company: only their `userId` names the user (a trait `id` is the
    # company's id), the rest comes from context.traits (Q5, Q11: as RudderStack).
    user_id = _user_id(event, ())
    if user_id is None:
        user_id = _first((group_traits,), ("userId",))
        if user_id is None:
            user_id = _first((context_traits,), _USER_ID)
    user_id = _or_anonymous(event, settings, user_id)
    email = _email((context_traits,), remembered)
    if user_id is None and email is None:
        return NO_IDENTITY  # Q6: rejected before anything is written, company included
    company = _compact(
        {
            "company_id": company_id,
            "name": _first((group_traits,), _NAME),
            "industry": _first((group_traits,), ("industry",)),
            "size": _first((group_traits,), ("size",)),
            "website": _first((group_traits,), _WEBSITE),
            "plan": _first((group_traits,), ("plan",)),
            "monthly_revenue": _first((group_traits,), _REVENUE),
            "churned": _first((group_traits,), ("churned",)),
            "custom_attributes": (
                None if group_traits is None else _attributes(group_traits, COMPANY_RESERVED)
            ),
        }
    )
    sources = (context_traits,)
    person = _person(
        event,
        user_id,
        email,
        sources,
        sources,
        (group_traits, context_traits),
        context_traits,
        _group_link(context_traits, company_id),
    )
    return [
        Request("POST", ends.company, ends.headers, NO_PARAMS, company),
        Request("POST", ends.people, ends.headers, NO_PARAMS, person),
    ]


def _group_link(context_traits: Source, company_id: Any) -> list[dict[str, Any]]:
    """Always the group's own company (Q5, Q12: RudderStack links context.traits.company.id
    instead when set, and nothing when the id came from traits.groupId). A context.traits
    company with no id or the same id still supplies the ``remove`` flag."""
    company = context_traits.get("company") if context_traits else None
    if isinstance(company, dict) and company.get("id") in (None, "", company_id):
        return [{"company_id": company_id, "remove": company.get("remove", False)}]
    return [{"company_id": company_id, "remove": False}]


# -- track, page, screen ------------------------------------------------------------------------


def _view_name(event: Event, kind: str) -> str:
    """``Viewed <name> Page`` / ``Viewed <name> Screen`` (``Viewed Page`` when unnamed)."""
    name = _first((event, _dict(event.get("properties"))), _NAME)
    suffix = kind.capitalize()
    return f"Viewed {name} {suffix}" if name is not None else f"Viewed {suffix}"


def _track(
    event: Event,
    settings: Settings,
    ends: Endpoints,
    remembered: Traits,
    name: Any,
) -> list[Request] | Rejection:
    if name is None or name == "":
        return NO_EVENT_NAME
    created_at = event.get("timestamp")
    if created_at is None or created_at == "":
        # RudderStack's server always sets `timestamp` before its transformer runs; csroute's
        # gateway stamps `receivedAt`, the same fallback.
        created_at = _first((event,), ("originalTimestamp", "receivedAt"))
        if created_at is None:
            return NO_TIMESTAMP
    traits = _dict(event.get("traits"))
    context_traits = _context_traits(event)
    properties = _dict(event.get("properties"))
    user_id = _or_anonymous(event, settings, _user_id(event, (traits, context_traits)))
    email = _email((traits, context_traits, properties), remembered)
    if user_id is None and email is None:
        return NO_IDENTITY
    body: dict[str, Any] = {}
    if user_id is not None:
        body["user_id"] = user_id
    if email is not None:
        body["email"] = email
    body["name"] = name
    body["created_at"] = created_at
    metadata: dict[str, Any] = {}
    if properties is not None:
        company_id = _first((properties,), _EVENT_COMPANY)  # Q13: groupId is not read
        if company_id is not None:
            body["company_id"] = company_id
        # Q1: RudderStack also drops 0, false and "" here; Custify takes them.
        metadata = {
            key: value
            for key, value in properties.items()
            if value is not None and not isinstance(value, dict | list)
        }
    if user_id is not None and _first((metadata,), _USER_ID_PROPERTIES) is None:
        metadata["user_id"] = user_id
    if settings.deduplication:
        deduplication_id = None
        if ends.deduplication_path:
            deduplication_id = _path(event, ends.deduplication_path)
        if deduplication_id is None or deduplication_id == "":
            deduplication_id = event.get("messageId")
        if deduplication_id is not None and deduplication_id != "":
            body["deduplication_id"] = deduplication_id
    body["metadata"] = metadata
    return [Request("POST", ends.event, ends.headers, NO_PARAMS, body)]


# -- rETL ---------------------------------------------------------------------------------------


def _mapped(event: Event) -> dict[str, Any]:
    """rETL/VDM events (``context.mappedToDestination``) carry the Custify body as their traits;
    the external id is added under its identifier type. Q5: taken as sent, not filtered."""
    traits = _dict(event.get("traits"))
    body = dict(traits if traits is not None else _context_traits(event) or {})
    identifier = _path(event, ("context", "externalId", "0"))
    if isinstance(identifier, dict) and _usable(identifier.get("identifierType")):
        body[str(identifier["identifierType"])] = identifier.get("id")
    return body
