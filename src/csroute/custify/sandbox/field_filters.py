"""The ``filters`` shape of tasks, tickets, notes and objectives (docs/custify-api.md, "Listings"):
a URL-encoded JSON array of ``{field, values[]}``. Values of one field are OR-ed, fields AND-ed; a
resource says which fields it filters on and how to read them from a record. Values compare as
text, ignoring case."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec
from starlette.datastructures import QueryParams

from csroute.custify.sandbox.responses import ApiError, Record

# What a record holds for a filter field; a list is matched by any of its items.
Getter = Callable[[Record], Any]


def _texts(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value]
    return {str(item).casefold() for item in items if item is not None}


def applied(
    records: Iterable[Record], params: QueryParams, fields: Mapping[str, Getter]
) -> Iterable[Record]:
    raw = params.get("filters")
    if not raw:
        return records
    try:
        entries = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ApiError(400, "filters must be a URL-encoded JSON array") from None
    if not isinstance(entries, list):
        raise ApiError(400, "filters must be a URL-encoded JSON array")
    tests: list[tuple[Getter, set[str]]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), list):
            raise ApiError(400, "filters: each entry needs a field and a values array")
        field = entry.get("field")
        if not isinstance(field, str) or field not in fields:
            raise ApiError(400, f"filters: field must be one of {', '.join(fields)}")
        tests.append((fields[field], _texts(entry["values"])))
    return [
        record
        for record in records
        if all(_texts(getter(record)) & wanted for getter, wanted in tests)
    ]


def search(records: Iterable[Record], term: str | None, keys: tuple[str, ...]) -> Iterable[Record]:
    """``searchTerm``: records whose text fields contain the term, ignoring case."""
    if not term:
        return records
    needle = term.casefold()
    return [
        record
        for record in records
        if any(needle in str(record.get(key) or "").casefold() for key in keys)
    ]


def by_key(*names: str) -> dict[str, Getter]:
    """Filter fields that read the record's key of the same name."""
    return {name: _reader(name) for name in names}


def _reader(name: str) -> Getter:
    return lambda record: record.get(name)
