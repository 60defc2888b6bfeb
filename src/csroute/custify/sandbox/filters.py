"""The ``filters`` parameter of the people and company listings (docs/custify-api.md, "Listings").

A URL-encoded JSON array of ``{fieldName, fieldType, filterType, filterValue}``, AND-ed. Dates
compare by UTC day, as Custify's day-granularity filters do; relative ones ("N days ago") use the
wall clock. String comparisons ignore case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from starlette.datastructures import QueryParams

from csroute.custify.sandbox import rules
from csroute.custify.sandbox.responses import ApiError, Record

Test = Callable[[Any], bool]


def _value(record: Record, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, list):  # companies, parent_companies, tags: compare by id
        return [item["id"] if isinstance(item, dict) else item for item in value]
    return value


def _number(raw: Any) -> float:
    number = rules.as_number(raw)
    if number is None:
        raise ApiError(400, "filters: a Number filter needs a numeric filterValue")
    return float(number)


def _day(raw: Any) -> date:
    parsed = rules.parse_date(raw)
    if parsed is None:
        raise ApiError(400, "filters: a Date filter needs a YYYY-MM-DD filterValue")
    return date.fromisoformat(parsed[:10])


def _days_ago(raw: Any) -> date:
    return datetime.now(UTC).date() - timedelta(days=_number(raw))


def _record_day(value: Any) -> date | None:
    parsed = rules.parse_date(value)
    return date.fromisoformat(parsed[:10]) if parsed else None


def _known(test: Callable[[Any], bool]) -> Test:
    return lambda value: value is not None and test(value)


def _dated(test: Callable[[date], bool]) -> Test:
    def check(value: Any) -> bool:
        day = _record_day(value)
        return day is not None and test(day)

    return check


def _text(value: Any) -> str:
    return str(value).lower()


def _listed(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else [raw]


def _test(field_type: str, filter_type: str, raw: Any) -> Test:
    """The predicate for one filter entry; 400 for a combination Custify does not offer."""
    if filter_type == "is_unknown":
        return lambda value: value in (None, "", [])
    if filter_type == "any_value":
        return lambda value: value not in (None, "", [])
    if field_type == "Number":
        comparisons: dict[str, Callable[[float, float], bool]] = {
            "greater": lambda a, b: a > b,
            "lower": lambda a, b: a < b,
            "is": lambda a, b: a == b,
            "is_not": lambda a, b: a != b,
        }
        if filter_type in comparisons:
            target, compare = _number(raw), comparisons[filter_type]
            return _known(lambda value: isinstance(value, int | float) and compare(value, target))
    if field_type in ("String", "User"):
        needle = _text(raw)
        strings: dict[str, Callable[[str], bool]] = {
            "is": lambda text: text == needle,
            "is_not": lambda text: text != needle,
            "starts_with": lambda text: text.startswith(needle),
            "ends_with": lambda text: text.endswith(needle),
            "contains": lambda text: needle in text,
            "does_not_contain": lambda text: needle not in text,
        }
        if filter_type in strings:
            matches = strings[filter_type]
            return _known(lambda value: matches(_text(value)))
    if field_type == "Boolean" and filter_type in ("true", "false"):
        return lambda value: value is (filter_type == "true")
    if field_type == "Date":
        if filter_type in ("after", "on", "before"):
            day = _day(raw)
            dates = {
                "after": lambda d: d > day,
                "on": lambda d: d == day,
                "before": lambda d: d < day,
            }
            return _dated(dates[filter_type])
        if filter_type == "between" and isinstance(raw, list) and len(raw) == 2:
            first, last = _day(raw[0]), _day(raw[1])
            return _dated(lambda d: first <= d <= last)
        if filter_type in ("more_than", "less_than", "exactly"):
            limit = _days_ago(raw)
            ago = {
                "more_than": lambda d: d < limit,
                "less_than": lambda d: d > limit,
                "exactly": lambda d: d == limit,
            }
            return _dated(ago[filter_type])
    if field_type in ("Tag", "Company", "String") and filter_type in ("is_in", "is_not_in"):
        wanted = {str(item) for item in _listed(raw)}

        def inside(value: Any) -> bool:
            return bool(wanted & {str(item) for item in _listed(value or [])})

        return inside if filter_type == "is_in" else lambda value: not inside(value)
    raise ApiError(400, f"filters: {field_type} fields have no filterType {filter_type}")


def parse(raw: str) -> list[tuple[str, Test]]:
    try:
        entries = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ApiError(400, "filters must be a URL-encoded JSON array") from None
    if not isinstance(entries, list):
        raise ApiError(400, "filters must be a URL-encoded JSON array")
    parsed = []
    for entry in entries:
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(key), str) for key in ("fieldName", "fieldType", "filterType")
        ):
            raise ApiError(400, "filters: each entry needs fieldName, fieldType and filterType")
        test = _test(entry["fieldType"], entry["filterType"], entry.get("filterValue"))
        parsed.append((entry["fieldName"], test))
    return parsed


def matching(records: list[Record], raw: str) -> list[Record]:
    tests = parse(raw)
    return [r for r in records if all(test(_value(r, field)) for field, test in tests)]


def applied(records: Iterable[Record], params: QueryParams) -> Iterable[Record]:
    """The records that pass the request's ``filters`` parameter, if it has one."""
    raw = params.get("filters")
    return matching(list(records), raw) if raw else records
