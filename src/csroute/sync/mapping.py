"""From a file record to a Custify payload: column mapping, exclusions, type conversion, and the
template's required fields. Every problem of a row is collected, so a report names them all."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from csroute.custify.client.errors import ValidationError
from csroute.sync.convert import ConversionError, Kind, convert
from csroute.sync.templates import Field, Payload, Template


@dataclass(frozen=True, slots=True)
class Problem:
    row: int
    """1-based record number in the file (the CSV header is not a record)."""
    field: str | None
    message: str
    stage: str = "local"
    """``local`` (found before sending) or ``custify`` (Custify refused it)."""


@dataclass(frozen=True, slots=True)
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)
    """column -> template field, Custify field, or ``<extras>.<name>``."""
    exclude: frozenset[str] = frozenset()
    """Columns (or the fields they map to) left out of every request."""


def build(
    record: dict[str, Any], row: int, template: Template, mapping: Mapping
) -> tuple[Payload | None, list[Problem]]:
    """The payload of one record, or None with the row's problems."""
    payload: Payload = copy.deepcopy(dict(template.defaults))
    problems: list[Problem] = []
    for column, value in record.items():
        name = mapping.columns.get(column, column)
        if column in mapping.exclude or name in mapping.exclude or name in template.ignored:
            continue
        target = _target(template, name)
        if target is None:
            if value not in (None, ""):
                problems.append(
                    Problem(
                        row,
                        column,
                        f"not a field of {template.name}; map it with --map {column}=FIELD or "
                        f"leave it out with --exclude {column}",
                    )
                )
            continue
        try:
            converted = convert(value, target.kind)
        except ConversionError as e:
            problems.append(Problem(row, column, str(e)))
            continue
        if converted is not None:
            _put(payload, target.target, converted)
    for group in template.required:
        if not any(_has(payload, template.fields[name].target) for name in group):
            problems.append(Problem(row, " or ".join(group), "missing (required)"))
    if template.check is not None and not problems:
        try:
            template.check(payload)
        except ValidationError as e:
            problems.append(Problem(row, e.field, e.message))
    if problems:
        return None, problems
    if template.finish is not None:
        template.finish(payload)
    return payload, []


def _target(template: Template, name: str) -> Field | None:
    found = template.field_for(name)
    if found is None and template.mapped_only and name.startswith(template.mapped_only + "."):
        return Field(name, "auto")
    if found is not None or template.extras is None:
        return found
    if template.extras == "":  # manual configuration: columns are sent as they are
        return Field(name, "raw")
    inner = name.removeprefix(template.extras + ".")
    kind: Kind = (
        "date" if template.extras == "custom_attributes" and inner.endswith("_at") else "auto"
    )
    return Field(f"{template.extras}.{inner}", kind)


def _put(payload: Payload, path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if not rest:
        payload[head] = value
        return
    inner = payload.setdefault(head, {})
    inner[rest] = value


def _has(payload: Payload, path: str) -> bool:
    head, _, rest = path.partition(".")
    if not rest:
        return payload.get(head) not in (None, "")
    inner = payload.get(head)
    return isinstance(inner, dict) and inner.get(rest) not in (None, "")
