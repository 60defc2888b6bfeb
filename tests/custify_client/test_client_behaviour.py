"""Pagination, envelopes, typed errors, retries, local validation and the shared rate limiter,
against the sandbox."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from custify_client_support import API_KEY, FAST, sandbox_requests

from csroute.custify.client import (
    AsyncCustify,
    AuthenticationError,
    Custify,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
)
from csroute.custify.sandbox import running
from csroute.destinations.custify.delivery import delivery
from csroute.destinations.custify.settings import Settings
from csroute.router.ratelimit import LIMITERS
from support.servers import ServerThread


def faults(url: str, script: list[Any]) -> None:
    httpx.post(f"{url}/__sandbox/faults", json={"script": script}).raise_for_status()


def batch_people(api: Custify, count: int) -> set[str]:
    jobs = [{"type": "people", "payload": {"user_id": f"u{i}"}} for i in range(count)]
    api.batch.submit(jobs)
    return {p["id"] for p in api.people.list()}


# Pagination


@pytest.mark.parametrize("per_page", [1, 7, 45, 200])
def test_people_pages_return_every_record_exactly_once(api: Custify, per_page: int) -> None:
    created = batch_people(api, 45)
    ids = [p["id"] for p in api.people.list(per_page=per_page)]
    assert len(ids) == 45 and set(ids) == created


async def test_async_listing_pages_companies(url: str) -> None:
    async with AsyncCustify(API_KEY, url, **FAST) as client:
        await client.batch.submit(
            [{"type": "company", "payload": {"company_id": f"c{i}"}} for i in range(23)]
        )
        ids = [c["company_id"] async for c in client.companies.list(per_page=5)]
    assert sorted(ids) == sorted(f"c{i}" for i in range(23))
    sizes = [r["query"] for r in sandbox_requests(url) if r["path"] == "/company/all"]
    assert len(sizes) == 5  # 5 + 5 + 5 + 5 + 3: stops on total, no empty extra page


def test_listing_with_sorting_and_filters(api: Custify) -> None:
    for i, plan in enumerate(["gold", "free", "gold"]):
        api.companies.upsert(company_id=f"c{i}", plan=plan, size=i)
    gold = api.companies.list(
        filters=[{"fieldName": "plan", "fieldType": "String", "filterType": "is",
                  "filterValue": "gold"}],
        sorting={"field": "size", "direction": "asc"},
    )  # fmt: skip
    assert [c["company_id"] for c in gold] == ["c0", "c2"]


READ_ONLY = [
    # (group, collection seeded, extra fields of each record, list keyword arguments)
    ("meetings", "meetings", {"title": "QBR"}, {}),
    ("surveys", "surveys", {"type": "nps"}, {}),
    ("health_scores", "health_scores", {}, {}),
    ("calculated_metrics", "calculated_metrics", {"type": "company"}, {"type": "company"}),
    ("segments", "segments", {"type": "people"}, {"type": "people"}),
    ("lifecycles", "lifecycles", {}, {}),
    ("playbooks", "playbooks", {"type": "companies"}, {"type": "companies"}),
]


@pytest.mark.parametrize(("group", "collection", "fields", "params"), READ_ONLY)
def test_read_only_lists_page_through_every_record(
    api: Custify, url: str, group: str, collection: str, fields: dict[str, Any], params: Any
) -> None:
    records = [{"name": f"{collection} {i}", **fields} for i in range(12)]
    seeded = httpx.post(f"{url}/__sandbox/seed", json={collection: records})
    seeded.raise_for_status()
    listed = list(getattr(api, group).list(per_page=5, **params))
    assert sorted(r["name"] if "name" in r else r["title"] for r in listed) == sorted(
        r["name"] for r in records
    )
    assert len({r["id"] for r in listed}) == 12
    if hasattr(getattr(api, group), "get"):
        first = listed[0]
        assert getattr(api, group).get(first["id"])["id"] == first["id"]


def test_objectives_and_survey_responses(api: Custify, url: str) -> None:
    company = api.companies.upsert(company_id="c1")
    httpx.post(
        f"{url}/__sandbox/seed",
        json={"objectives": [{"name": f"o{i}", "company": company["id"]} for i in range(7)]},
    ).raise_for_status()
    assert len(list(api.objectives.list(company_id="c1", per_page=3))) == 7
    assert list(api.surveys.list()) == []
    seeded = {"surveys": [{"name": "Q2", "type": "nps"}]}
    httpx.post(f"{url}/__sandbox/seed", json=seeded).raise_for_status()
    [survey_id] = [s["id"] for s in api.surveys.list()]
    api.people.upsert(user_id="u1")
    api.scores.nps(8, user_id="u1", survey_id=survey_id)
    assert [r["score"] for r in api.surveys.responses(survey_id)] == [8]


# Envelopes and typed errors


def test_gets_raise_not_found_for_empty_lists_and_404s(api: Custify) -> None:
    with pytest.raises(NotFound, match="People not found"):
        api.people.get("5b9f95d838ab5e09b8ed66cb")
    with pytest.raises(NotFound):
        api.people.get(email="nobody@example.com")  # Custify: 200 with []
    with pytest.raises(NotFound):
        api.companies.get("5b9f95d838ab5e09b8ed66cb")  # Custify: {"companies": []}
    with pytest.raises(NotFound):
        api.tags.get("5b9f95d838ab5e09b8ed66cb")  # Custify: {"tags": []}
    with pytest.raises(NotFound, match="User: nobody not found"):
        api.people.delete(user_id="nobody")


def test_wrong_key_is_an_authentication_error_with_custifys_message(url: str) -> None:
    with (
        Custify("wrong-key-123", url, **FAST) as client,
        pytest.raises(AuthenticationError, match="invalid API-KEY") as caught,
    ):
        client.people.upsert(user_id="u1")
    assert caught.value.status == 401
    assert "wrong-key-123" not in str(caught.value)


async def quote_the_key(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A Custify stand-in that refuses every call, quoting the Authorization it got."""
    while (await receive()).get("more_body"):
        pass
    auth = dict(scope["headers"]).get(b"authorization", b"")
    body = b'{"error": {"message": "bad header ' + auth + b'"}}'
    await send({"type": "http.response.start", "status": 401, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_a_key_quoted_back_in_an_error_is_masked() -> None:
    key = "quoted-back-key-0123456789"
    with (
        ServerThread(quote_the_key) as server,
        Custify(key, server.url, **FAST) as client,
        pytest.raises(AuthenticationError, match="bad header Bearer qu…89") as caught,
    ):
        client.people.upsert(user_id="u1")
    assert key not in str(caught.value)


def test_read_only_key_is_permission_denied() -> None:
    with (
        running(rate_limit=None, read_only_keys=("read-only-key",)) as url,
        Custify("read-only-key", url, **FAST) as client,
    ):
        assert list(client.people.list()) == []
        with pytest.raises(PermissionDenied, match=r"read-only.*check the Custify plan"):
            client.people.upsert(user_id="u1")


def test_custify_validation_message_is_kept(api: Custify) -> None:
    company = api.companies.upsert(company_id="c1")
    with pytest.raises(ValidationError, match="company_id cannot be changed") as caught:
        api.companies.upsert(id=company["id"], company_id="c2")
    assert caught.value.status == 400


def test_429_and_5xx_are_retried_as_retry_after_says(url: str) -> None:
    faults(url, [503, 429, 500])
    with Custify(API_KEY, url, **FAST, backoff_s=0.01) as client:
        person = client.people.upsert(user_id="u1")
    assert client.connection.max_attempts >= 4
    statuses = [r["status"] for r in sandbox_requests(url)]
    assert statuses == [503, 429, 500, 200]
    assert person["user_id"] == "u1"


def test_retries_are_bounded_and_end_in_typed_errors(url: str) -> None:
    with Custify(API_KEY, url, **FAST, max_attempts=2, backoff_s=0.01) as client:
        faults(url, [502, 500])
        with pytest.raises(ServerError, match="Some other error occurred"):
            client.people.upsert(user_id="u1")
        faults(url, [429, 429])
        with pytest.raises(RateLimited) as caught:
            client.people.list().__next__()
    assert caught.value.retry_after_s == 1.0
    assert len(sandbox_requests(url)) == 4


def test_lost_answers_retry_reads_but_not_writes(url: str) -> None:
    with Custify(API_KEY, url, **FAST, backoff_s=0.01) as client:
        faults(url, ["drop"])
        with pytest.raises(TransportError):
            client.people.upsert(user_id="u1")
        faults(url, ["drop"])
        assert list(client.people.list()) == []


# Local validation: refused before sending, with the field named


INVALID = [
    ("people", "upsert", {"name": "no identifier"}, "id"),
    ("people", "upsert", {"user_id": "u", "custom_attributes": {"a$b": 1}},
     "custom_attributes.a$b"),
    ("people", "upsert", {"user_id": "u", "custom_attributes": {"123": 1}},
     "custom_attributes.123"),
    ("people", "upsert", {"user_id": "u", "custom_attributes": {"k" * 191: 1}},
     "custom_attributes." + "k" * 191),
    ("people", "upsert", {"user_id": "u", "custom_attributes": {"o": {"a": 1}}},
     "custom_attributes.o"),
    ("people", "upsert", {"user_id": "u", "custom_attributes": {"s": "x" * 256}},
     "custom_attributes.s"),
    ("people", "upsert", {"user_id": "u", "custom_attributes": {f"a{i}": i for i in range(251)}},
     "custom_attributes"),
    ("people", "upsert", {"user_id": "u", "name": "n" * 256}, "name"),
    ("companies", "upsert", {"name": "no company_id"}, "id"),
    ("companies", "create", {"id": "5b9f95d838ab5e09b8ed66cb"}, "company_id"),
    ("events", "insert", {"name": "x", "user_id": "u"}, "created_at"),
    ("events", "insert", {"name": "x", "created_at": "2024-01-01"}, "user_id"),
    ("events", "insert", {"name": "x" * 101, "created_at": "2024-01-01", "user_id": "u"}, "name"),
    ("events", "insert", {"name": "x", "created_at": "2024-01-01", "user_id": "u",
                          "metadata": {f"k{i}": i for i in range(51)}}, "metadata"),
    ("events", "insert", {"name": "x", "created_at": "2024-01-01", "user_id": "u",
                          "metadata": {"nested": {"a": 1}}}, "metadata.nested"),
    ("notes", "create", {"text": "t", "entity": "e", "entityModel": "User"}, "entityModel"),
    ("tags", "create", {"name": "t", "category": "animals"}, "category"),
    ("tasks", "create", {"name": "t", "priority": "urgent", "status": "open"}, "priority"),
    ("tasks", "create", {"name": "t", "priority": "low"}, "status"),
    ("tickets", "create", {"title": "no externalId"}, "externalId"),
    ("deals", "create", {"name": "no externalId"}, "externalId"),
    ("time_tracks", "create", {"name": "t", "duration": 60}, "startedDate"),
]  # fmt: skip


@pytest.mark.parametrize(("group", "method", "body", "field"), INVALID)
def test_local_validation_names_the_field_and_sends_nothing(
    api: Custify, url: str, group: str, method: str, body: dict[str, Any], field: str
) -> None:
    extra = {"user": "csm@example.com"} if group == "time_tracks" else {}
    with pytest.raises(ValidationError) as caught:
        getattr(getattr(api, group), method)(body, **extra)
    assert caught.value.field == field
    assert caught.value.status is None
    assert sandbox_requests(url) == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda api: api.scores.nps(11, user_id="u"), "score"),
        (lambda api: api.scores.nps(-1, user_id="u"), "score"),
        (lambda api: api.scores.csat(0, user_id="u"), "score"),
        (lambda api: api.scores.csat(6, user_id="u"), "score"),
        (lambda api: api.scores.csat(True, user_id="u"), "score"),
        (lambda api: api.scores.nps(5, user_id="u", email="e@x.io"), "entity"),
        (lambda api: api.people.get(user_id="u", email="e@x.io"), "id"),
        (lambda api: api.tags.get("not-an-id"), "id"),
        (lambda api: api.batch.submit([{"type": "people", "payload": {}}] * 101), "jobs"),
        (lambda api: api.batch.submit([{"type": "x", "payload": {}}]), "jobs[0]"),
        (lambda api: api.batch.submit([{"type": "people", "payload": {"user_id": "u"}}] * 4,
                                      synchronous=True), "jobs"),
        (lambda api: api.batch.submit([{"type": "people", "payload": {"name": "n"}}]),
         "jobs[0].payload.id"),
        (lambda api: api.files.upload(b"x", filename="a.txt"), "companyId"),
        (lambda api: api.comments.create("Company", "e", text="t"), "entity_model"),
    ],
)  # fmt: skip
def test_local_rules_for_scores_identifiers_and_batches(
    api: Custify, url: str, call: Any, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        call(api)
    assert caught.value.field == field
    assert sandbox_requests(url) == []


# Rate limit


def test_client_and_pipeline_share_one_limiter_per_key(url: str) -> None:
    pipeline = delivery(Settings(api_key=API_KEY, base_url=url))
    with Custify(API_KEY, url + "/") as client:
        assert client.limiter is LIMITERS.get(pipeline.rate_limit)
    with Custify("another-key", url) as other:
        assert other.limiter is not LIMITERS.get(pipeline.rate_limit)


async def test_a_run_over_the_rate_limit_slows_down_instead_of_failing() -> None:
    """The connection believes it may send 50/s; the account allows 5 per second. Every call
    still succeeds: 429s pause the shared limiter for Retry-After and lower its rate."""
    with running(rate_limit=(5, 1.0)) as url:
        async with AsyncCustify(
            API_KEY, url, rate_limit_requests=50, rate_limit_window_s=1.0
        ) as client:
            semaphore = asyncio.Semaphore(3)

            async def upsert(i: int) -> str:
                async with semaphore:
                    person = await client.people.upsert(user_id=f"u{i}")
                    return str(person["user_id"])

            done = await asyncio.gather(*(upsert(i) for i in range(30)))
            listed = [p["user_id"] async for p in client.people.list()]
        statuses = [r["status"] for r in sandbox_requests(url)]
    assert sorted(done) == sorted(listed) == sorted(f"u{i}" for i in range(30))
    assert 429 in statuses  # the limit really was exceeded
    assert client.limiter.throttled > 0
