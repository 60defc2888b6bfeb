"""Finding the person or company a record belongs to, from whichever identifier a resource takes:
an internal id, your ``user_id``/``company_id``, or an email. An identifier that is sent but matches
nobody is 404 with the text Custify uses for that entity (``People not found``, ``Company not
found``), so a record is never attached to nothing."""

from __future__ import annotations

from typing import Any

from csroute.custify.sandbox.responses import ApiError
from csroute.custify.sandbox.state import State

# A note's or a custom data object's ``entityModel`` and what it names.
NOTE_MODELS = {"Company": "companies", "Customer": "people"}


def _text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value


def person_id(
    state: State, *, internal: Any = None, user_id: Any = None, email: Any = None
) -> str | None:
    """The internal id of the person named by any of the identifiers (internal id first)."""
    by_id = _text(internal, "people")
    by_user_id = _text(user_id, "user_id")
    by_email = _text(email, "email")
    if by_id is None and by_user_id is None and by_email is None:
        return None
    if by_id is not None and by_id in state.people:
        return by_id
    if by_id is None and by_user_id is not None and by_user_id in state.people_by_user_id:
        return state.people_by_user_id[by_user_id]
    if by_id is None and by_user_id is None and by_email is not None:
        same = state.person_by_email(by_email)
        if same:
            return same[0]
    raise ApiError(404, "People not found")


def company_id(state: State, *, internal: Any = None, company_id: Any = None) -> str | None:
    """The internal id of the company named by its internal id or your ``company_id``."""
    by_id = _text(internal, "company")
    yours = _text(company_id, "company_id")
    if by_id is None and yours is None:
        return None
    if by_id is not None and by_id in state.companies:
        return by_id
    if by_id is None and yours is not None and yours in state.companies_by_company_id:
        return state.companies_by_company_id[yours]
    raise ApiError(404, "Company not found")


def entity_name(state: State, entity_id: str) -> str | None:
    """What Custify shows for an entity: a company's name, a person's name or email."""
    if entity_id in state.companies:
        name: str | None = state.companies[entity_id]["name"]
        return name
    person = state.people.get(entity_id)
    if person is None:
        return None
    shown: str | None = person["name"] or person["email"] or person["user_id"]
    return shown


def entity(state: State, model: str, entity_id: Any) -> str:
    """An existing person (``model`` "people") or company ("companies") by internal id."""
    if model == "companies":
        found = company_id(state, internal=entity_id)
    else:
        found = person_id(state, internal=entity_id)
    if found is None:
        raise ApiError(400, "entity is required")
    return found
