"""The 24 Custify triggers, as data: which listing each polls, how that listing sorts and pages,
which timestamp orders it, and the shape of the records it hands on.

Thirteen resources; eleven have a *Created* and an *Updated* trigger, files and surveys only
*Created*. The poller reads nothing else from here, so adding a trigger is adding a row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Sort = Literal["sorting", "sort", "none"]
"""How the listing sorts: ``sorting={"field":..,"direction":"desc"}``, ``sort=..&order=desc``,
or not at all (the poller reads every page and sorts itself)."""
Kind = Literal["created", "updated"]


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    """Singular, as in the trigger titles: ``Ticket``."""
    path: str
    key: str
    """The array's key in the listing envelope."""
    per_page: int
    """The listing's maximum ``itemsPerPage``: fewer requests per poll."""
    sort: Sort
    fields: tuple[str, ...]
    """The fields of a listed record: the output shape's ``record``."""
    created: str = "created_at"
    updated: str = "updated_at"
    variants: tuple[Mapping[str, str], ...] = ({},)
    """Listings that together make the resource (segments and playbooks list one type per call)."""
    scoped: Literal["files", "objectives"] | None = None
    """The listing is per entity: the trigger takes a scope (settings.ScopeConfig)."""
    push: str | None = None
    """The entity name of Custify's outgoing webhooks for this resource, when it has them."""
    kinds: tuple[Kind, ...] = ("created", "updated")

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "_")


@dataclass(frozen=True, slots=True)
class Trigger:
    resource: Resource
    kind: Kind
    key: str = field(init=False)
    title: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.resource.slug}_{self.kind}")
        object.__setattr__(self, "title", f"{self.resource.name} {self.kind.capitalize()}")

    @property
    def field(self) -> str:
        """The timestamp the listing is sorted by and the cursor follows."""
        return self.resource.created if self.kind == "created" else self.resource.updated


_STAMPS = ("created_at", "updated_at")

RESOURCES: tuple[Resource, ...] = (
    Resource(
        "Person",
        "/people/all",
        "people",
        200,
        "sorting",
        (
            "id",
            "user_id",
            "email",
            "name",
            "phone",
            "signed_up_at",
            "companies",
            "tags",
            "custom_attributes",
            *_STAMPS,
        ),
    ),
    Resource(
        "Note",
        "/note",
        "notes",
        50,
        "sort",
        (
            "id",
            "text",
            "entity",
            "entityModel",
            "entityName",
            "company",
            "people",
            "tags",
            "files",
            "sticky",
            "status",
            "showInPortal",
            "createdBy",
            "createdByType",
            *_STAMPS,
        ),
        push="note",
    ),
    Resource(
        "Task",
        "/task",
        "tasks",
        50,
        "sorting",
        (
            "id",
            "name",
            "description",
            "priority",
            "status",
            "dueDate",
            "company",
            "people",
            "assignedTo",
            "assignedToEmail",
            "assignedToName",
            "collaborators",
            "checklist",
            "externalId",
            "tags",
            "completedAt",
            "completedBy",
            *_STAMPS,
        ),
        push="task",
    ),
    Resource(
        "Ticket",
        "/ticket",
        "tickets",
        200,
        "sort",
        (
            "id",
            "externalId",
            "title",
            "description",
            "company",
            "companyNames",
            "people",
            "peopleNames",
            "priority",
            "ticketStatus",
            "status",
            "openedAt",
            "lastModifiedAt",
            "assignedTo",
            "assignedToName",
            "provider",
            "rating",
            "replies",
            "tags",
            *_STAMPS,
        ),
        created="openedAt",
        updated="lastModifiedAt",
    ),
    Resource(
        "File",
        "/file",
        "files",
        50,
        "none",
        (
            "id",
            "account",
            "companies",
            "peoples",
            "extension",
            "mimeType",
            "name",
            "size",
            "showInPortal",
            "created_at",
        ),
        scoped="files",
        kinds=("created",),
    ),
    Resource(
        "Survey",
        "/survey",
        "surveys",
        50,
        "none",
        ("id", "name", "type", "created_at"),
        kinds=("created",),
    ),
    Resource(
        "Time Track",
        "/time-track",
        "time_track",
        50,
        "sorting",
        ("id", "name", "duration", "startDate", "company", "people", "tags", "user", *_STAMPS),
    ),
    Resource(
        "Meeting",
        "/calendar/meeting",
        "meetings",
        50,
        "sorting",
        (
            "id",
            "title",
            "startAt",
            "endAt",
            "duration",
            "recurring",
            "organizer",
            "participants",
            "company",
            "people",
            "tags",
            *_STAMPS,
        ),
    ),
    Resource(
        "Health Score",
        "/health_score",
        "health_scores",
        50,
        "sorting",
        ("id", "name", "description", "kpiType", "globalHealthScoreImpact", "tags", *_STAMPS),
    ),
    Resource(
        "Segment",
        "/segment",
        "segments",
        50,
        "sorting",
        ("id", "name", "goal", "type", "tags", *_STAMPS),
        variants=({"type": "people"}, {"type": "company"}),
    ),
    Resource(
        "Lifecycle",
        "/lifecycle",
        "lifecycles",
        200,
        "sorting",
        (
            "id",
            "name",
            "description",
            "status",
            "goals",
            "tasks",
            "settings",
            "tags",
            "created_by",
            "updated_by",
            *_STAMPS,
        ),
    ),
    Resource(
        "Playbook",
        "/playbook",
        "playbooks",
        200,
        "sorting",
        (
            "id",
            "name",
            "description",
            "type",
            "status",
            "position",
            "settings",
            "tags",
            "company_counts",
            *_STAMPS,
        ),
        variants=({"type": "companies"}, {"type": "people"}),
    ),
    Resource(
        "Customer Objective",
        "/objective",
        "objectives",
        50,
        "sorting",
        (
            "id",
            "name",
            "company",
            "description",
            "importance",
            "risk",
            "health",
            "completionPercentage",
            "objectiveStatus",
            "startAt",
            "dueAt",
            "completedAt",
            "tags",
            "assignedTo",
            "assignedToName",
            "collaborators",
            *_STAMPS,
        ),
        scoped="objectives",
    ),
)

TRIGGERS: tuple[Trigger, ...] = tuple(
    Trigger(resource, kind) for resource in RESOURCES for kind in resource.kinds
)
BY_KEY: dict[str, Trigger] = {t.key: t for t in TRIGGERS}
PUSHED = frozenset(t.title for t in TRIGGERS if t.resource.push)


def find(name: str) -> Trigger | None:
    """A trigger by key (``ticket_created``) or title (``Ticket Created``), any case."""
    return BY_KEY.get(re.sub(r"[\s-]+", "_", name.strip().lower()))


def output_shape(trigger: Trigger) -> dict[str, object]:
    """What a handler receives for this trigger (``csroute triggers test`` prints it)."""
    return {
        "trigger": "<the trigger's name in the configuration>",
        "type": trigger.key,
        "title": trigger.title,
        "resource": trigger.resource.slug,
        "id": "<the record's id>",
        "at": f"<the record's {trigger.field}>",
        "via": "poll | push",
        "record": dict.fromkeys(trigger.resource.fields, "..."),
    }
