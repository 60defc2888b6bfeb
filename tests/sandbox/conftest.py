"""Fixtures for the Custify sandbox resource tests: one sandbox per module on 127.0.0.1 with a
fake clock and no rate limit, reset before every test. Names start with ``custify`` so they cannot
shadow the fixtures other sandbox tests define; helpers are in custify_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from custify_helpers import AUTH, Clock

from csroute.custify.sandbox import create_app, running


@pytest.fixture(scope="module")
def custify_clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def custify_url(custify_clock: Clock) -> Iterator[str]:
    with running(create_app(rate_limit=None, clock=custify_clock)) as url:
        yield url


@pytest.fixture
def custify(custify_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=custify_url, headers=AUTH) as client:
        client.post("/__sandbox/reset").raise_for_status()
        yield client
