"""Why an event or a request was refused, in a form both clients and metrics can use.

``rule`` is a short stable name (``required``, ``iso8601``, ``max_event_bytes`` ...): clients
can branch on it and metrics label rejections with it (a small fixed set, unlike ``field``).
``field`` is the JSON path of the offending value (``batch[3].userId``), ``""`` for the whole
body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Rejection:
    field: str
    rule: str
    message: str
    index: int | None = None  # position in the batch, None for single-event requests


class RequestError(Exception):
    """The request as a whole is refused with ``status``; nothing of it is stored.

    ``rejected`` lists every event's rejection when a batch is refused because none passed.
    """

    def __init__(
        self, status: int, field: str, rule: str, message: str, rejected: Sequence[Rejection] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.rejection = Rejection(field, rule, message)
        self.rejected = rejected


def field_path(index: int | None, field: str) -> str:
    """``batch[3].userId`` for an event of a batch, ``userId`` for a single event."""
    if index is None:
        return field
    return f"batch[{index}].{field}" if field else f"batch[{index}]"


def body_timeout(seconds: float) -> RequestError:
    """The body did not complete in time: the connection is then closed, not kept waiting."""
    return RequestError(
        408, "", "body_timeout", f"the request body did not arrive within {seconds:g} s"
    )
