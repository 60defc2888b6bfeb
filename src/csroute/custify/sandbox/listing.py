"""Pagination, ``filters`` and ``sorting`` for the ``/all`` listings (custify-api.md section 6).

Sorting is stable and puts records without the field last, so that walking the pages with
``page*itemsPerPage >= total`` returns every record exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from starlette.datastructures import QueryParams

from csroute.custify.sandbox import filters
from csroute.custify.sandbox.responses import ApiError, Record

DEFAULT_ITEMS_PER_PAGE = 20


def _positive_int(params: QueryParams, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    return int(raw)


def _field(record: Record, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers before strings before anything else, so mixed types still compare."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, msgspec.json.encode(value))


def sorting(params: QueryParams, default_field: str) -> tuple[str, bool]:
    """The ``sorting`` JSON parameter as (field, descending); the default direction is desc."""
    raw = params.get("sorting")
    if not raw:
        return default_field, True
    try:
        spec = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ApiError(
            400, 'sorting must be JSON such as {"field":"updated_at","direction":"desc"}'
        ) from None
    if not isinstance(spec, dict) or not isinstance(spec.get("field"), str):
        raise ApiError(400, "sorting needs a field")
    direction = spec.get("direction", "desc")
    if direction not in ("asc", "desc"):
        raise ApiError(400, "sorting direction must be asc or desc")
    return spec["field"], direction == "desc"


def page_of(
    records: Iterable[Record], params: QueryParams, *, max_items: int, default_sort: str
) -> tuple[list[Record], int]:
    """One page of records and the total count. ``itemsPerPage`` above the maximum is clamped."""
    if params.get("filters"):
        records = filters.matching(list(records), params["filters"])
    page = _positive_int(params, "page", 1)
    size = min(_positive_int(params, "itemsPerPage", DEFAULT_ITEMS_PER_PAGE), max_items)
    field, descending = sorting(params, default_sort)
    present: list[tuple[tuple[int, Any], Record]] = []
    missing: list[Record] = []
    for record in records:
        value = _field(record, field)
        if value is None:
            missing.append(record)
        else:
            present.append((_sort_key(value), record))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    ordered = [record for _, record in present] + missing
    start = (page - 1) * size
    return ordered[start : start + size], len(ordered)
