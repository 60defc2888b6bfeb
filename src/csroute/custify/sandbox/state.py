"""Everything the sandbox remembers, as plain dicts with the indexes that keep lookups O(1).

Records are the JSON objects the API returns, stored as-is, so a response is one encode of the
stored dict. Every change to a record's identifiers goes through the methods here, which keep the
indexes (user_id, email, company_id, memberships, events per owner) in step.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request

from csroute.custify.sandbox.responses import Record


def iso(moment: datetime) -> str:
    """Custify's timestamp style: ISO-8601 with milliseconds and ``Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))


class ObjectIds:
    """24-hex ids shaped like the MongoDB ObjectIds Custify uses, unique within one sandbox."""

    def __init__(self) -> None:
        self._prefix = f"{int(datetime.now(UTC).timestamp()):08x}{os.urandom(3).hex()}"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):010x}"


def state_of(request: Request) -> State:
    """The sandbox state behind a request (kept on ``app.state`` so tests can reach it too)."""
    state: State = request.app.state.sandbox
    return state


def is_object_id(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) == 24 and all(c in "0123456789abcdef" for c in value)
    )


class Stamps:
    """Record timestamps: the wall clock in milliseconds, but strictly increasing, so that sorting
    by ``created_at`` or ``updated_at`` orders records as they were written, as polling needs."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def next(self) -> str:
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if now <= self._last:
            now = self._last + timedelta(milliseconds=1)
        self._last = now
        return iso(now)


# Collections of records that are stored as-is and keyed by internal id, besides people, companies
# and events; ``/__sandbox/state`` lists them and a deleted tag is removed from their ``tags``.
COLLECTIONS = (
    "notes",
    "tags",
    "tickets",
    "tasks",
    "comments",
    "files",
    "scores",
    "deals",
    "invoices",
    "subscriptions",
    "time_tracks",
    "meetings",
    "surveys",
    "survey_responses",
    "health_scores",
    "calculated_metrics",
    "segments",
    "lifecycles",
    "playbooks",
    "objectives",
)


@dataclass
class State:
    ids: ObjectIds = field(default_factory=ObjectIds)
    stamps: Stamps = field(default_factory=Stamps)
    people: dict[str, Record] = field(default_factory=dict)
    people_by_user_id: dict[str, str] = field(default_factory=dict)
    people_by_email: dict[str, list[str]] = field(default_factory=dict)
    companies: dict[str, Record] = field(default_factory=dict)
    companies_by_company_id: dict[str, str] = field(default_factory=dict)
    company_people: dict[str, dict[str, None]] = field(default_factory=dict)
    company_children: dict[str, dict[str, None]] = field(default_factory=dict)
    events: dict[str, Record] = field(default_factory=dict)
    events_by_owner: dict[str, list[str]] = field(default_factory=dict)
    deduplication_ids: set[str] = field(default_factory=set)
    batches: dict[str, Record] = field(default_factory=dict)
    batch_deadlines: dict[str, float] = field(default_factory=dict)
    custom_data: dict[tuple[str, str, str, str], Record] = field(default_factory=dict)
    attribute_types: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: dict[str, Record] = field(default_factory=dict)
    tags: dict[str, Record] = field(default_factory=dict)
    tickets: dict[str, Record] = field(default_factory=dict)
    tickets_by_external_id: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, Record] = field(default_factory=dict)
    comments: dict[str, Record] = field(default_factory=dict)
    files: dict[str, Record] = field(default_factory=dict)
    # NPS and CSAT: the newest score per (kind, person), keyed "nps:<person id>"
    scores: dict[str, Record] = field(default_factory=dict)
    deals: dict[str, Record] = field(default_factory=dict)
    invoices: dict[str, Record] = field(default_factory=dict)
    subscriptions: dict[str, Record] = field(default_factory=dict)
    # (financial collection, your externalId) -> internal id
    financials_by_external_id: dict[tuple[str, str], str] = field(default_factory=dict)
    time_tracks: dict[str, Record] = field(default_factory=dict)
    # read-only in Custify's API, filled through POST /__sandbox/seed
    meetings: dict[str, Record] = field(default_factory=dict)
    surveys: dict[str, Record] = field(default_factory=dict)
    survey_responses: dict[str, Record] = field(default_factory=dict)
    health_scores: dict[str, Record] = field(default_factory=dict)
    calculated_metrics: dict[str, Record] = field(default_factory=dict)
    segments: dict[str, Record] = field(default_factory=dict)
    lifecycles: dict[str, Record] = field(default_factory=dict)
    playbooks: dict[str, Record] = field(default_factory=dict)
    objectives: dict[str, Record] = field(default_factory=dict)
    # "events_deduplicated" and the like
    counters: Counter[str] = field(default_factory=Counter)
    # API requests: "total", one key per answered status ("200", "429", ...), and "dropped"
    requests: Counter[str] = field(default_factory=Counter)

    def collection(self, name: str) -> dict[str, Record]:
        records: dict[str, Record] = getattr(self, name)
        return records

    def stamp(self) -> str:
        return self.stamps.next()

    def locks(self, scope: str) -> dict[str, str]:
        """First-seen attribute types of one scope (``people``, ``company``, ``event:<name>``)."""
        return self.attribute_types.setdefault(scope, {})

    # people

    def person_by_email(self, email: str) -> list[str]:
        return self.people_by_email.get(email.lower(), [])

    def add_person(self, person: Record) -> None:
        self.people[person["id"]] = person
        self._index_person(person)

    def reindex_person(self, person: Record, user_id: str | None, email: str | None) -> None:
        """Set a person's identifiers; the caller has checked that ``user_id`` is free."""
        self._unindex_person(person)
        person["user_id"] = user_id
        person["email"] = email
        self._index_person(person)

    def remove_person(self, person_id: str) -> None:
        person = self.people.pop(person_id)
        self._unindex_person(person)
        for company_id in list(person["companies"]):
            self.unlink(person, company_id)
        self._remove_events(person_id)
        self._remove_owned(person_id)

    def _index_person(self, person: Record) -> None:
        if person["user_id"] is not None:
            self.people_by_user_id[person["user_id"]] = person["id"]
        if person["email"] is not None:
            self.people_by_email.setdefault(person["email"].lower(), []).append(person["id"])

    def _unindex_person(self, person: Record) -> None:
        if person["user_id"] is not None:
            self.people_by_user_id.pop(person["user_id"], None)
        if person["email"] is not None:
            same = self.people_by_email.get(person["email"].lower(), [])
            if person["id"] in same:
                same.remove(person["id"])
            if not same:
                self.people_by_email.pop(person["email"].lower(), None)

    # companies and memberships

    def add_company(self, company: Record) -> None:
        self.companies[company["id"]] = company
        self.companies_by_company_id[company["company_id"]] = company["id"]

    def remove_company(self, company_id: str) -> None:
        company = self.companies.pop(company_id)
        del self.companies_by_company_id[company["company_id"]]
        for person_id in list(self.company_people.pop(company_id, {})):
            self.people[person_id]["companies"].remove(company_id)
        for child_id in self.company_children.pop(company_id, {}):
            self.companies[child_id]["parent_companies"].remove({"id": company_id})
        for parent in company["parent_companies"]:
            self.company_children.get(parent["id"], {}).pop(company_id, None)
        self._remove_events(company_id)
        self._remove_owned(company_id)

    def link(self, person: Record, company_id: str) -> None:
        members = self.company_people.setdefault(company_id, {})
        if person["id"] not in members:
            members[person["id"]] = None
            person["companies"].append(company_id)
            self.companies[company_id]["people_count"] = len(members)

    def unlink(self, person: Record, company_id: str) -> None:
        members = self.company_people.get(company_id, {})
        if person["id"] in members:
            del members[person["id"]]
            person["companies"].remove(company_id)
            self.companies[company_id]["people_count"] = len(members)

    def link_parent(self, child: Record, parent_id: str) -> None:
        children = self.company_children.setdefault(parent_id, {})
        if child["id"] not in children:
            children[child["id"]] = None
            child["parent_companies"].append({"id": parent_id})

    def unlink_parent(self, child: Record, parent_id: str) -> None:
        children = self.company_children.get(parent_id, {})
        if child["id"] in children:
            del children[child["id"]]
            child["parent_companies"].remove({"id": parent_id})

    # events

    def add_event(self, event: Record, owner_id: str) -> None:
        self.events[event["id"]] = event
        self.events_by_owner.setdefault(owner_id, []).append(event["id"])

    def _remove_events(self, owner_id: str) -> None:
        for event_id in self.events_by_owner.pop(owner_id, []):
            self.events.pop(event_id, None)

    def _remove_owned(self, entity_id: str) -> None:
        """A deleted person's or company's custom data objects and scores go with it."""
        for key in [key for key in self.custom_data if key[1] == entity_id]:
            del self.custom_data[key]
        for kind in ("nps", "csat"):
            self.scores.pop(f"{kind}:{entity_id}", None)
