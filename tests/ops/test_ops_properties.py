"""Property: whatever an operator's tool sends to the admin API, the answer is never a 5xx,
and every refusal names the parameter (or body field) and the rule (``csroute serve`` on
loopback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.hostile import assert_answered_well, bodies, scalars, spoiled
from support.process import CsrouteProcess

ADMIN_TOKEN = "properties-admin-token-0001"
BODY_KEYS = ["ids", "all", "destination", "user_id", "destinations"]
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.sampled_from(["", "-1", "--5", "0", "1.5", "1e3", " 1", "0x10", "٣", "9" * 40, "9" * 5000]),
    st.text(max_size=6),
)


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    csroute = CsrouteProcess(
        tmp_path_factory.mktemp("admin-properties"),
        {"admin": {"token": ADMIN_TOKEN}, "sources": [{"name": "app", "write_key": "wk-props-1"}]},
    ).start()
    try:
        with httpx.Client(
            base_url=f"{csroute.url}/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as client:
            yield client
    finally:
        csroute.stop()


@given(
    query=st.dictionaries(
        st.sampled_from(["after_id", "limit", "destination", "offset"]), numbers, max_size=3
    )
)
@EXAMPLES
def test_any_listing_query_is_answered_without_a_5xx(
    admin: httpx.Client, query: dict[str, str]
) -> None:
    response = admin.get("/dead-letters", params=query)
    assert_answered_well(response)
    if response.status_code == 200:
        assert isinstance(response.json(), list)


@given(ident=numbers)
@EXAMPLES
def test_any_dead_letter_id_is_answered_without_a_5xx(admin: httpx.Client, ident: str) -> None:
    assert_answered_well(admin.get(f"/dead-letters/{quote(ident, safe='')}"))


# Bodies shaped like the real ones (lists of huge or negative ids, names of any kind), any
# JSON near them, spoiled UTF-8, or raw bytes.
shaped = st.fixed_dictionaries(
    {},
    optional={
        "ids": st.lists(st.integers(min_value=-(2**70), max_value=2**70) | scalars, max_size=4),
        "all": scalars,
        "destination": scalars,
        "user_id": scalars,
        "destinations": st.lists(scalars, max_size=3) | scalars,
    },
)


@given(
    action=st.sampled_from(["dead-letters/replay", "dead-letters/discard", "forget"]),
    body=st.one_of(spoiled(shaped), bodies(BODY_KEYS)),
)
@EXAMPLES
def test_any_admin_body_is_answered_without_a_5xx(
    admin: httpx.Client, action: str, body: bytes
) -> None:
    response = admin.post(f"/{action}", content=body)
    assert_answered_well(response)
    if response.status_code == 200:
        json.dumps(response.json())
