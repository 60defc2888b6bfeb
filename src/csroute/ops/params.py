"""Checking what an admin request carries: every refusal is a 4xx naming the field and the rule.

The admin API answers in the gateway's shape, ``{"error", "field", "rule"}``, so that tools
(and the property-based tests) can tell which parameter broke which rule. Integers are bounded
by what the stores can hold (a 64-bit signed id), so a huge number is the client's mistake
(400), never a driver's overflow (500).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Mapping
from typing import Annotated, Final, TypeVar

import msgspec
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse

from csroute.events.errors import RequestError, body_timeout

MAX_ID: Final = 2**63 - 1
"""The largest id either store can hold (SQLite INTEGER, PostgreSQL BIGINT)."""
MAX_PAGE: Final = 1000
MAX_IDS: Final = 10_000
"""Ids one replay or discard may name; more at once is what ``"all": true`` is for."""
MAX_NAME: Final = 200
MAX_BODY: Final = 1 << 20
"""Bytes of an admin request body (10,000 ids take about 200 KB)."""

Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
NO_NUL: Final = "^[^\x00]*$"
"""PostgreSQL's text columns refuse NUL: a name holding one is the client's mistake."""
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME, pattern=NO_NUL)]
T = TypeVar("T")

_AT: Final = re.compile(r" - at `\$\.?([^`]*)`$")
_FIELD: Final = re.compile(r"field `([^`]*)`")
_INTEGER: Final = re.compile(r"-?[0-9]{1,20}")


def refusal(error: RequestError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The response for a refused admin request; a 408 closes the connection, as the
    gateway's does, rather than wait for the rest of a body that may never come."""
    r = error.rejection
    if error.status == 408:
        headers = {**(headers or {}), "connection": "close"}
    body = {"error": r.message, "field": r.field, "rule": r.rule}
    return JSONResponse(body, status_code=error.status, headers=headers)


def store_unavailable(error: Exception) -> RequestError:
    """A 503 for a request the store could not serve (the client may try again)."""
    return RequestError(503, "", "store_unavailable", f"the store is unavailable: {error}")


def known_params(query: Mapping[str, str], allowed: Collection[str]) -> None:
    """Refuse a parameter the endpoint does not take: a misspelt ``limt=5`` would otherwise
    be ignored without a word."""
    for name in query:
        if name not in allowed:
            raise RequestError(400, name, "unknown_parameter", f"unknown parameter {name!r}")


def text_param(query: Mapping[str, str], name: str) -> str | None:
    """Query parameter ``name``, a name as the bodies' ``Name`` (None when absent)."""
    text = query.get(name)
    if text is None:
        return None
    if len(text) > MAX_NAME:
        raise RequestError(400, name, "length", f"{name} is longer than {MAX_NAME} characters")
    if "\x00" in text:
        raise RequestError(400, name, "nul", f"{name} must not contain the NUL character")
    return text


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Query parameter ``name`` as an integer within ``low..high`` (``default`` when absent)."""
    text = query.get(name)
    if text is None:
        return default
    if _INTEGER.fullmatch(text) is None:
        raise RequestError(400, name, "integer", f"{name} must be an integer")
    value = int(text)
    if not low <= value <= high:
        raise RequestError(400, name, "range", f"{name} must be between {low} and {high}")
    return value


class IdConvertor(Convertor[int]):
    """Path ids: digits, as Starlette's ``int``, but one too long to be an id becomes 0 (out
    of range, refused by ``path_id``) rather than an ``int()`` of thousands of digits, which
    Python refuses with a ValueError (a 500)."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        return int(value) if len(value.lstrip("0")) <= len(str(MAX_ID)) else 0

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


def path_id(value: int) -> int:
    """An id from the path (``IdConvertor`` made it an int)."""
    if not 1 <= value <= MAX_ID:
        raise RequestError(400, "id", "range", f"id must be between 1 and {MAX_ID}")
    return value


async def read_body(request: Request, timeout_s: float) -> bytes:
    """The body's bytes; a 413 past ``MAX_BODY``, a 408 when it does not arrive within
    ``timeout_s``."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise RequestError(
                        413, "", "max_body_bytes", f"the body exceeds {MAX_BODY} bytes"
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise body_timeout(timeout_s) from None
    return b"".join(chunks)


async def decode_body(request: Request, kind: type[T], timeout_s: float) -> T:
    """The JSON body as ``kind`` (see ``read_body`` and ``decode``)."""
    return decode(await read_body(request, timeout_s), kind)


def decode(body: bytes, kind: type[T]) -> T:
    """``body`` as ``kind``; a 400 naming the offending field when it is not one."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as e:
        raise _invalid(str(e)) from None
    except msgspec.DecodeError as e:
        raise RequestError(400, "", "json", f"the body is not valid JSON: {e}") from None
    except UnicodeDecodeError:  # raised, not wrapped, for bytes inside a string
        raise RequestError(400, "", "utf8", "the body is not valid UTF-8") from None


def _invalid(message: str) -> RequestError:
    """msgspec's validation message, read for the field (its path) and the rule it broke."""
    at = _AT.search(message)
    field = at.group(1) if at else ""
    named = _FIELD.search(message)
    if named:
        field = f"{field}.{named.group(1)}" if field else named.group(1)
    rule = _rule(message)
    return RequestError(400, field, rule, f"invalid request body: {message}")


def _rule(message: str) -> str:
    if message.startswith("Object missing required field"):
        return "required"
    if message.startswith("Object contains unknown field"):
        return "unknown_field"
    if "length" in message:
        return "length"
    if ">=" in message or "<=" in message or "out of range" in message:
        return "range"
    if "matching regex" in message:
        return "nul"  # NO_NUL is the only pattern
    return "type"
