"""Pagination and sorting of every listing (docs/custify-api.md, "Listings").

Custify sorts with two conventions: a ``sorting`` parameter holding URL-encoded JSON
``{"field": ..., "direction": ...}`` (people, companies, tasks, time tracks, meetings and the
read-only definitions) and ``sort=<field>&order=asc|desc`` (notes, tags, comments, financials,
tickets); objectives take both. Sorting is stable and puts records without the field last, so that
walking the pages with ``page*itemsPerPage >= total`` returns every record exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from starlette.datastructures import QueryParams

from csroute.custify.sandbox.responses import ApiError, Record

DEFAULT_ITEMS_PER_PAGE = 20
Style = Literal["sorting", "sort"]


@dataclass(frozen=True)
class Page:
    items: list[Record]
    total: int
    page: int
    items_per_page: int


def _positive_int(params: QueryParams, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    return int(raw)


def field_value(record: Record, path: str) -> Any:
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


def _sorting(raw: str) -> tuple[str, bool]:
    """The ``sorting`` JSON parameter as (field, descending); the default direction is desc."""
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


def _sort_order(params: QueryParams, default: tuple[str | None, bool]) -> tuple[str | None, bool]:
    order = params.get("order")
    if order is not None and order.lower() not in ("asc", "desc"):
        raise ApiError(400, "order must be asc or desc")
    field = params.get("sort") or default[0]
    return field, default[1] if order is None else order.lower() == "desc"


def order_of(
    params: QueryParams, styles: tuple[Style, ...], default: tuple[str | None, bool]
) -> tuple[str | None, bool]:
    """(field, descending) from whichever of the resource's conventions the request used."""
    if "sorting" in styles and params.get("sorting"):
        return _sorting(params["sorting"])
    if "sort" in styles and (params.get("sort") or params.get("order")):
        return _sort_order(params, default)
    return default


def arrange(records: Iterable[Record], field: str, descending: bool) -> list[Record]:
    present: list[tuple[tuple[int, Any], Record]] = []
    missing: list[Record] = []
    for record in records:
        value = field_value(record, field)
        if value is None:
            missing.append(record)
        else:
            present.append((_sort_key(value), record))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [record for _, record in present] + missing


def paginate(ordered: list[Record], params: QueryParams, max_items: int | None) -> Page:
    """One page of already ordered records. ``itemsPerPage`` above the maximum is clamped."""
    page = _positive_int(params, "page", 1)
    size = _positive_int(params, "itemsPerPage", DEFAULT_ITEMS_PER_PAGE)
    if max_items is not None:
        size = min(size, max_items)
    start = (page - 1) * size
    return Page(ordered[start : start + size], len(ordered), page, size)


def page_of(
    records: Iterable[Record],
    params: QueryParams,
    *,
    max_items: int | None,
    default_sort: str | None,
    descending: bool = True,
    styles: tuple[Style, ...] = ("sorting",),
) -> Page:
    """Sort by the request's field, else by ``default_sort``, else keep the records' order; then
    cut out the requested page."""
    field, desc = order_of(params, styles, (default_sort, descending))
    ordered = list(records) if field is None else arrange(records, field, desc)
    return paginate(ordered, params, max_items)
