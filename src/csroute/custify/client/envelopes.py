"""Custify's response envelopes, normalised (docs/custify-api.md, "Resources").

One resource answers with an array-wrapped object (``[{"people": [...], "total": n}]``), most
with ``{"<key>": [...], "total": n}``, surveys with a bare array, financials with the bare
object when exactly one record matches, and several GET-by-id calls with an empty list instead
of a 404. ``items`` turns all of them into (records, total); ``one`` into a record or NotFound.
"""

from __future__ import annotations

from typing import Any

from csroute.custify.client.errors import NotFound

Record = dict[str, Any]


def items(body: Any, key: str) -> tuple[list[Record], int | None]:
    """The records of a listing answer and its ``total`` (None when Custify gives none)."""
    if isinstance(body, list):
        if len(body) == 1 and isinstance(body[0], dict) and isinstance(body[0].get(key), list):
            return items(body[0], key)
        return [r for r in body if isinstance(r, dict)], None
    if not isinstance(body, dict) or not body:
        return [], 0
    for name in (key, "data"):
        if isinstance(body.get(name), list):
            total = body.get("total")
            return body[name], total if isinstance(total, int) else None
    if "id" in body or "_id" in body:
        return [body], 1
    return [], 0


def one(body: Any, key: str, what: str) -> Record:
    """The single record of a get: the object itself, or the first of a wrapped list."""
    if isinstance(body, dict) and key not in body and ("id" in body or "_id" in body):
        return body
    found, _ = items(body, key)
    if not found:
        raise NotFound(f"{what}: not found", status=404)
    return found[0]


def as_record(body: Any) -> Record:
    """A write's answer as a record; Custify leaves several bodies empty or undocumented."""
    return body if isinstance(body, dict) else {} if body is None else {"response": body}
