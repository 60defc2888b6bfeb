"""The record-sync templates of docs/sync.md, as data: one ``Template`` per Custify call.

A template names the fields a record may carry (Nexla's names, translated to Custify's API fields as
docs/sync.md's template table says), the type each is converted to, which fields must be present,
and where other columns go (``custom_attributes``, event ``metadata``, custom-data ``data``, or
nowhere: then they are reported; a financial record's ``metadata`` takes only the columns mapped to
it by name, so a misspelt column is reported rather than stored). Where the spec leaves a
translation open, the value goes to the record's free-form object so nothing is lost: subscription
``status``, invoice ``due_date`` and deal ``close_date`` (unless the deal is won or lost) to
``metadata``, company ``churned_at`` to ``custom_attributes``; a note's ``created_at`` has no
writable field and is dropped."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from csroute.custify.client import validate
from csroute.sync.convert import Kind

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Field:
    target: str
    """Custify's field; ``a.b`` sets ``b`` inside the object ``a``."""
    kind: Kind = "str"


@dataclass(frozen=True, slots=True)
class Template:
    key: str
    name: str
    method: str
    path: str
    fields: Mapping[str, Field]
    required: tuple[tuple[str, ...], ...]
    """Each group needs at least one of its fields (``("user_id", "email")``: either)."""
    extras: str | None = None
    """The object that takes columns which are not fields, or None to report them."""
    mapped_only: str | None = None
    """An object that takes only columns mapped to it by name (``--map col=metadata.col``)."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    job_type: str | None = None
    """The ``/batch`` job type of this call, for batch mode; None: no batch endpoint."""
    ignored: frozenset[str] = frozenset()
    finish: Callable[[Payload], None] | None = None
    """Reshapes the payload after mapping (e.g. a person's ``company_id`` into ``companies``)."""
    check: Callable[[Payload], None] | None = None
    """The client's own rules for the free-form object (docs/custify-api.md, "Attribute types and
    limits"), so the pre-flight finds what Custify would refuse; raises ``ValidationError`` naming
    the field."""

    def field_for(self, name: str) -> Field | None:
        """The field a column of this name fills: a template field, or Custify's own name."""
        found = self.fields.get(name)
        if found is not None:
            return found
        for candidate in self.fields.values():
            if candidate.target == name:
                return candidate
        return None

    def describe_required(self) -> list[str]:
        return [" or ".join(group) for group in self.required]


def _fields(**fields: str | Field) -> dict[str, Field]:
    return {
        name: value if isinstance(value, Field) else Field(value) for name, value in fields.items()
    }


def _link_company(payload: Payload) -> None:
    if "company_id" in payload:
        payload["companies"] = [{"company_id": str(payload.pop("company_id"))}]


def _deal_close(payload: Payload) -> None:
    """``close_date`` is ``wonAt`` or ``lostAt`` by the deal's status, else kept in metadata."""
    closed = payload.get("metadata", {}).get("close_date")
    target = {"won": "wonAt", "lost": "lostAt"}.get(str(payload.get("status", "")).lower())
    if closed is not None and target is not None:
        payload[target] = closed
        del payload["metadata"]["close_date"]
        if not payload["metadata"]:
            del payload["metadata"]


def _custom_data_owner(payload: Payload) -> None:
    payload["entityModel"] = "Company" if "company_id" in payload else "Customer"


_OWNER = _fields(company_id="company_id", user_id="user_id")
_FINANCIAL_ID = _fields(external_id="externalId")

PERSON = Template(
    key="upsert-person",
    name="Upsert Person",
    method="POST",
    path="/people",
    fields=_fields(
        id="id",
        user_id="user_id",
        email="email",
        name="name",
        phone="phone",
        signed_up_at=Field("signed_up_at", "date"),
        session_count=Field("session_count", "int"),
        unsubscribed_from_emails=Field("unsubscribed_from_emails", "bool"),
        unsubscribed_from_calls=Field("unsubscribed_from_calls", "bool"),
        churned_at=Field("custom_attributes.churned_at", "date"),
        plan="custom_attributes.plan",
        company_id="company_id",
    ),
    required=(("user_id", "email", "id"),),
    extras="custom_attributes",
    job_type="people",
    check=validate.custom_attributes,
    finish=_link_company,
)
COMPANY = Template(
    key="upsert-company",
    name="Upsert Company",
    method="POST",
    path="/company",
    fields=_fields(
        id="id",
        company_id="company_id",
        name="name",
        website="website",
        plan="plan",
        size=Field("size", "int"),
        mrr=Field("monthly_revenue", "int"),
        industry="industry",
        signed_up_at=Field("signed_up_at", "date"),
        churned=Field("churned", "bool"),
        churned_at=Field("custom_attributes.churned_at", "date"),
        owners_csm="owners_csm",
        owners_account="owners_account",
    ),
    required=(("company_id", "id"),),
    extras="custom_attributes",
    job_type="company",
    check=lambda payload: validate.custom_attributes(payload, currency=True),
)
SUBSCRIPTION = Template(
    key="upsert-subscription",
    name="Upsert Subscription",
    method="POST",
    path="/financial/subscription",
    fields=_FINANCIAL_ID
    | _OWNER
    | _fields(
        plan="plan",
        mrr=Field("mrr", "number"),
        start_date=Field("startedAt", "date"),
        renewal_date=Field("nextBillingAt", "date"),
        canceled_at=Field("canceledAt", "date"),
        billing_period=Field("billingPeriod", "int"),
        billing_period_unit="billingPeriodUnit",
        status="metadata.status",
    ),
    required=(("external_id",), ("company_id", "user_id")),
    mapped_only="metadata",
)
INVOICE = Template(
    key="upsert-invoice",
    name="Upsert Invoice",
    method="POST",
    path="/financial/invoice",
    fields=_FINANCIAL_ID
    | _OWNER
    | _fields(
        amount=Field("total", "number"),
        amount_paid=Field("amountPaid", "number"),
        status="status",
        invoiced_at=Field("invoicedAt", "date"),
        paid_at=Field("paidAt", "date"),
        due_date=Field("metadata.due_date", "date"),
    ),
    required=(("external_id",), ("company_id", "user_id")),
    mapped_only="metadata",
)
DEAL = Template(
    key="upsert-deal",
    name="Upsert Deal",
    method="POST",
    path="/financial/deal",
    fields=_FINANCIAL_ID
    | _OWNER
    | _fields(
        name="name",
        stage="status",
        value=Field("value", "int"),
        added_at=Field("addedAt", "date"),
        won_at=Field("wonAt", "date"),
        lost_at=Field("lostAt", "date"),
        close_date=Field("metadata.close_date", "date"),
    ),
    required=(("external_id",), ("company_id", "user_id")),
    mapped_only="metadata",
    finish=_deal_close,
)
EVENT = Template(
    key="insert-event",
    name="Insert Event",
    method="POST",
    path="/event",
    fields=_fields(
        user_id="user_id",
        email="email",
        company_id="company_id",
        name="name",
        created_at=Field("created_at", "date"),
        deduplication_id="deduplication_id",
    ),
    required=(("name",), ("created_at",), ("user_id", "email", "company_id")),
    extras="metadata",
    job_type="event",
    check=validate.metadata,
)
TASK = Template(
    key="create-task",
    name="Create Task",
    method="POST",
    path="/task",
    fields=_fields(
        name="name",
        description="description",
        due_date=Field("dueDate", "date"),
        assignee_email="assignedTo",
        company_id="company_id",
        person_id="user_id",
        priority="priority",
        status="status",
        external_id="externalId",
    ),
    required=(("name",),),
    defaults={"priority": "medium", "status": "open"},
)
NOTE = Template(
    key="create-note",
    name="Create Note",
    method="POST",
    path="/note",
    fields=_fields(text="text", company_id="company_id", person_id="user_id"),
    required=(("text",), ("company_id", "person_id")),
    ignored=frozenset({"created_at"}),
)
"""Custify wants the note's owner as an internal ``entity``; the run looks it up by
``company_id`` (else ``user_id``) before sending (see ``run.resolve_note_owner``)."""
CUSTOM_DATA = Template(
    key="upsert-custom-data-object",
    name="Upsert Custom Data Object",
    method="POST",
    path="/custom_data",
    fields=_OWNER | _fields(type="data_type", data_id="data_id"),
    required=(("type",), ("data_id",), ("company_id", "user_id")),
    extras="data",
    job_type="custom-data",
    finish=_custom_data_owner,
)
BATCH = "send-batch-request"
"""Send Batch Request is not a call of its own: it is the batch mode of the template of its job
type (``people`` by default), through ``POST /batch``."""

TEMPLATES: dict[str, Template] = {
    t.key: t for t in (PERSON, COMPANY, SUBSCRIPTION, INVOICE, DEAL, EVENT, TASK, NOTE, CUSTOM_DATA)
}
BY_JOB_TYPE = {t.job_type: t for t in TEMPLATES.values() if t.job_type is not None}
TEMPLATE_NAMES = [*(t.name for t in TEMPLATES.values()), "Send Batch Request"]


def template_key(name: str) -> str:
    """``Upsert Person``, ``upsert-person`` and ``upsert_person`` all name one template."""
    return "-".join(name.strip().lower().replace("_", " ").replace("-", " ").split())
