"""Property: whatever a client sends to the ingestion API, the answer is never a 5xx, and
every refusal names the field and the rule (against ``csroute serve`` on loopback)."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.hostile import assert_answered_well, bodies, json_values, spoiled
from support.process import CsrouteProcess

WRITE_KEY = "properties-write-key-0001"
KINDS = ["identify", "track", "page", "screen", "group", "alias", "batch", "import"]
EVENT_KEYS = [
    "type", "userId", "anonymousId", "event", "name", "groupId", "previousId", "messageId",
    "properties", "traits", "context", "integrations", "timestamp", "originalTimestamp",
    "sentAt", "writeKey",
]  # fmt: skip
BATCH_KEYS = [*EVENT_KEYS, "batch"]
BATCH_LEVEL = ["context", "integrations", "sentAt", "writeKey"]
AUTH = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    csroute = CsrouteProcess(
        tmp_path_factory.mktemp("gateway-properties"),
        {"sources": [{"name": "app", "write_key": WRITE_KEY}]},
    ).start()
    try:
        with httpx.Client(base_url=csroute.url) as client:
            yield client
    finally:
        csroute.stop()


def batches() -> st.SearchStrategy[bytes]:
    """Batches with events and batch-level fields of any shape, some spoiled with bad UTF-8."""
    values = json_values(EVENT_KEYS)
    events = st.lists(st.dictionaries(st.sampled_from(EVENT_KEYS), values, max_size=4), max_size=3)
    envelope = st.fixed_dictionaries({"batch": events}, optional={k: values for k in BATCH_LEVEL})
    return spoiled(envelope)


# Mostly the right key, so that most requests get past authentication into the body.
authorization = st.sampled_from([AUTH, AUTH, AUTH, None, "Basic !!!", "Bearer x", "Basic Og=="])
headers = st.fixed_dictionaries(
    {"Authorization": authorization},
    optional={
        "Content-Type": st.sampled_from(["application/json", "text/plain", "image/png", "x"]),
        "Content-Encoding": st.sampled_from(["gzip", "identity", "br", ""]),
    },
)
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def post(client: httpx.Client, kind: str, body: bytes, sent: dict[str, str | None]) -> None:
    """Send one request and check the answer (see ``assert_answered_well``)."""
    response = client.post(
        f"/v1/{kind}", content=body, headers={k: v for k, v in sent.items() if v is not None}
    )
    assert_answered_well(response)
    if response.status_code == 200:
        answer = response.json()
        assert answer["success"] is True and answer["accepted"] >= 1
        for rejected in answer.get("rejected", []):
            assert rejected["field"].startswith("batch[") and rejected["rule"], answer


@given(kind=st.sampled_from(["batch", "import"]), body=batches(), auth=authorization)
@EXAMPLES
def test_any_batch_is_answered_without_a_5xx_and_refusals_name_field_and_rule(
    client: httpx.Client, kind: str, body: bytes, auth: str | None
) -> None:
    post(client, kind, body, {"Authorization": auth})


@given(kind=st.sampled_from(KINDS[:6]), body=bodies(EVENT_KEYS), auth=authorization)
@EXAMPLES
def test_any_single_event_is_answered_without_a_5xx_and_refusals_name_field_and_rule(
    client: httpx.Client, kind: str, body: bytes, auth: str | None
) -> None:
    post(client, kind, body, {"Authorization": auth})


@given(
    kind=st.sampled_from(KINDS),
    body=st.one_of(bodies(BATCH_KEYS), batches()),
    sent=headers,
    compress=st.booleans(),
)
@EXAMPLES
def test_any_headers_are_answered_without_a_5xx_and_refusals_name_field_and_rule(
    client: httpx.Client, kind: str, body: bytes, sent: dict[str, str | None], compress: bool
) -> None:
    if compress and sent.get("Content-Encoding") == "gzip":
        body = gzip.compress(body)
    post(client, kind, body, sent)
