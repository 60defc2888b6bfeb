"""Body decoding: size caps, gzip (and gzip bombs), JSON, nesting depth, batch splitting."""

from __future__ import annotations

import gzip
import zlib

import msgspec
import pytest

from csroute.events.decode import BodyReader, Envelope, decode_item, parse_batch, parse_event
from csroute.events.errors import Rejection, RequestError
from csroute.events.limits import Limits

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)

LIMITS = Limits(max_event_bytes=1000, max_request_bytes=5000, max_batch_events=10, max_depth=4)


def read(chunks: list[bytes], gzipped: bool = False, limit: int = 5000) -> bytes:
    reader = BodyReader(limit, gzipped)
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


def refusal(call: object, *args: object) -> tuple[int, str, str]:
    with pytest.raises(RequestError) as info:
        call(*args)  # type: ignore[operator]
    e = info.value
    return e.status, e.rejection.field, e.rejection.rule


def parse(body: bytes, batch: bool, limits: Limits) -> Envelope | tuple[object, object]:
    return parse_batch(body, limits) if batch else parse_event(body, limits)


def nested(levels: int) -> bytes:
    """An event whose properties nest so that the event is ``levels`` deep."""
    return b'{"type":"track","properties":' + b'{"a":' * (levels - 1) + b"1" + b"}" * levels


def test_plain_and_gzip_bodies_in_chunks() -> None:
    body = b'{"userId":"u"}' * 10
    assert read([body[:7], body[7:]]) == body
    packed = gzip.compress(body)
    assert read([packed[:5], packed[5:20], packed[20:]], gzipped=True) == body


def test_body_over_the_limit_is_refused_as_sent() -> None:
    assert refusal(read, [b"x" * 3000, b"x" * 3000]) == (413, "", "max_request_bytes")


def test_gzip_bomb_is_refused_without_being_expanded() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB that compress to about 50 KB
    reader = BodyReader(5000, gzip=True)
    inflater = reader._inflater
    assert inflater is not None
    with pytest.raises(RequestError) as info:
        for i in range(0, len(bomb), 1024):
            reader.feed(bomb[i : i + 1024])
    assert (info.value.status, info.value.rejection.rule) == (413, "max_request_bytes")
    assert reader._size <= 5001  # never inflated more than one byte past the limit


def test_gzip_bomb_in_one_chunk() -> None:
    bomb = gzip.compress(b"{" * 2_000_000)
    assert len(bomb) < 5000
    assert refusal(read, [bomb], True) == (413, "", "max_request_bytes")


@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(b'{"a":1}')[:-6], gzip.compress(b"{}") + b"junk"],
)
def test_corrupt_gzip(body: bytes) -> None:
    assert refusal(read, [body], True) == (400, "", "gzip")


def test_raw_deflate_is_not_gzip() -> None:
    assert refusal(read, [zlib.compress(b"{}")], True) == (400, "", "gzip")


@pytest.mark.parametrize(
    ("body", "batch", "expected"),
    [
        (b"", False, (400, "", "json")),
        (b"{", False, (400, "", "json")),
        (b'{"a":1,}', False, (400, "", "json")),
        (b'{"a":"\xff"}', False, (400, "", "utf8")),
        (b'{"batch":[{}],"writeKey":"\xff"}', True, (400, "writeKey", "utf8")),
        (b"[1]", False, (400, "", "object")),
        (b'"event"', False, (400, "", "object")),
        (b"x" * 1001, False, (413, "", "max_event_bytes")),
        (nested(5), False, (400, "", "max_depth")),
        (b'{"writeKey":1}', False, (400, "writeKey", "type")),
        (b"[]", True, (400, "", "object")),
        (b'{"sentAt":"x"}', True, (400, "batch", "required")),
        (b'{"batch":{}}', True, (400, "batch", "type")),
        (b'{"batch":[]}', True, (400, "batch", "required")),
        (b'{"batch":[' + b"{}," * 10 + b"{}]}", True, (413, "batch", "max_batch_events")),
        (b'{"batch":[{}],"sentAt":"soon"}', True, (400, "sentAt", "iso8601")),
        (b'{"batch":[{}],"writeKey":["k"]}', True, (400, "writeKey", "type")),
        (b'{"batch":[{}],"context":[]}', True, (400, "context", "type")),
        (b'{"batch":[{}],"context":{"a":{"b":{"c":{}}}}}', True, (400, "context", "max_depth")),
    ],
    ids=lambda v: repr(v)[:30] if isinstance(v, bytes) else None,
)
def test_malformed_requests(body: bytes, batch: bool, expected: tuple[int, str, str]) -> None:
    assert refusal(parse, body, batch, LIMITS) == expected


@pytest.mark.parametrize(
    ("body", "batch"),
    [
        (b'{"batch":' + b"[" * 100_000 + b"]" * 100_000 + b"}", True),
        (b'{"batch":[' + nested(3000) + b"]}", True),
        (nested(3000), False),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, False),
    ],
    ids=["batch-brackets", "batch-event", "event", "objects"],
)
def test_nesting_beyond_the_decoders_recursion_limit(body: bytes, batch: bool) -> None:
    limits = Limits(max_event_bytes=1_000_000, max_request_bytes=1_000_000)
    with pytest.raises(RequestError) as info:
        parse(body, batch, limits)
    assert (info.value.status, info.value.rejection.rule) == (400, "max_depth")


def test_depth_limit_is_inclusive() -> None:
    assert parse_event(nested(4), LIMITS)[0]["properties"] == {"a": {"a": {"a": 1}}}


def test_many_brackets_but_shallow_is_fine() -> None:
    wide = b'{"type":"track","properties":{"l":[' + b",".join([b"[{}]"] * 200) + b"]}}"
    assert len(parse_event(wide, Limits(max_depth=5))[0]["properties"]["l"]) == 200


def test_single_event_body_with_write_key() -> None:
    assert parse_event(b'{"userId":"u","writeKey":"k"}', LIMITS) == ({"userId": "u"}, "k")


def test_batch_splits_events_and_rejects_bad_ones_alone() -> None:
    big = msgspec.json.encode({"userId": "u", "p": "x" * 1000})
    body = b'{"batch":[{"userId":"a"},' + big + b',"\xff",' + nested(5) + b",1],"
    body += b'"sentAt":"2026-01-01T00:00:00Z","writeKey":"k","context":{"ip":"1"}}'
    envelope = parse_batch(body, LIMITS)
    assert (envelope.write_key, envelope.sent_at) == ("k", "2026-01-01T00:00:00Z")
    assert envelope.context == {"ip": "1"}
    items = [decode_item(i, raw, LIMITS) for i, raw in enumerate(envelope.items)]
    first, too_big, bad_utf8, too_deep, number = items
    assert first == {"userId": "a"}
    assert number == 1  # not an object: validation's business
    assert too_big == Rejection("batch[1]", "max_event_bytes", "the event exceeds 1000 bytes", 1)
    assert isinstance(bad_utf8, Rejection) and (bad_utf8.field, bad_utf8.rule) == (
        "batch[2]",
        "utf8",
    )
    assert isinstance(too_deep, Rejection) and (too_deep.index, too_deep.rule) == (3, "max_depth")
