"""Hypothesis strategies for hostile requests, and the one check every answer must pass.

The values are JSON-like, drawn near what the server reads (the field names it knows, strings
that look like numbers and dates, huge integers, deep nesting) and spliced with invalid UTF-8,
so that most requests reach deep into the validation rather than stopping at "not JSON".
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import strategies as st

INVALID_UTF8 = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["", "2026-01-31T12:00:00Z", "2026-13-45", "1e309", "-1", "0", "track"]),
)


def json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    """JSON values whose objects mostly use ``keys`` (the names the server reads)."""
    names = st.one_of(st.sampled_from(keys), st.text(max_size=8))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=5)
        ),
        max_leaves=8,
    )


def encoded(value: Any, spoil: bytes | None = None, where: int = 0) -> bytes:
    """``value`` as JSON; with ``spoil``, those (invalid UTF-8) bytes put inside a string
    (a key or a value: after the ``where``-th quote, counted round)."""
    body = json.dumps(value).encode()
    quotes = [i for i, byte in enumerate(body) if byte == ord('"')]
    if spoil is not None and quotes:
        at = quotes[where % len(quotes)] + 1
        body = body[:at] + spoil + body[at:]
    return body


def spoiled(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """``values`` as JSON, half of them with invalid UTF-8 somewhere in a string."""
    return st.builds(encoded, values, st.none() | INVALID_UTF8, st.integers(0, 1000))


def bodies(keys: list[str]) -> st.SearchStrategy[bytes]:
    """Request bodies: JSON near the server's shapes, the same spoiled, or any bytes."""
    return st.one_of(
        spoiled(json_values(keys)),
        st.binary(max_size=64),
    )


def assert_answered_well(response: httpx.Response) -> None:
    """Never a 5xx; every 4xx is JSON naming the field (``""``: the whole body) and the rule,
    with a message."""
    shown = (response.request.method, str(response.request.url), response.text[:300])
    assert response.status_code < 500, shown
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("field"), str), shown
        assert isinstance(body.get("rule"), str) and body["rule"], shown
        assert isinstance(body.get("error"), str) and body["error"], shown
