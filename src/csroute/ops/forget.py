"""Deleting a user: stop delivering their queued events, then delete them where the API can.

The order matters. Queued events are dropped first, so a queued identify cannot re-create
the person right after the deletion. A delivery round already in flight (at most one page)
may still complete: run the deletion again if a destination reports the user back.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

import aiohttp

from csroute.config import Config
from csroute.destinations.registry import DESTINATION_TYPES, parse_settings
from csroute.router.ratelimit import LIMITERS
from csroute.router.redact import secrets_of
from csroute.router.sender import new_session, send
from csroute.store.base import Store


@dataclass(slots=True, frozen=True)
class Forgotten:
    destination: str
    dropped: int  # queued events that will not be delivered
    deleted: bool  # the destination confirmed the user is gone (False: no deletion API)
    error: str | None = None
    note: str | None = None  # without a deletion API: why, and what the operator must do


async def forget_user(
    config: Config,
    store: Store,
    user_id: str,
    destinations: Collection[str] = (),
    types: Collection[str] = (),
) -> list[Forgotten]:
    """Forget ``user_id`` in the named destinations (default: all) of the given types (default:
    all types), enabled or not."""
    results = []
    async with new_session(4) as session:
        for d in config.destinations:
            if (destinations and d.name not in destinations) or (types and d.type not in types):
                continue
            dropped = await store.forget(d.name, user_id, time.time())
            deletion = DESTINATION_TYPES[d.type].deletion
            if deletion is None:
                note = DESTINATION_TYPES[d.type].no_deletion
                results.append(Forgotten(d.name, dropped, False, note=note))
                continue
            settings, _ = parse_settings(d.type, d.settings)
            error = await _delete(session, d.type, settings, user_id)
            results.append(Forgotten(d.name, dropped, error is None, error))
    return results


async def _delete(
    session: aiohttp.ClientSession, type_name: str, settings: object, user_id: str
) -> str | None:
    dtype = DESTINATION_TYPES[type_name]
    assert dtype.deletion is not None
    try:
        requests = dtype.deletion.requests(user_id, settings)
    except ValueError as e:
        return str(e)
    delivery = dtype.delivery(settings)
    timeout = aiohttp.ClientTimeout(total=delivery.timeout_s)
    secrets = secrets_of(dtype, settings)
    for request in requests:
        if delivery.rate_limit is not None:
            await LIMITERS.get(delivery.rate_limit).acquire()
        attempt = await send(session, request, timeout, secrets)
        if attempt.status is None:
            return attempt.error
        error = dtype.deletion.error(attempt.status, attempt.body)
        if error is not None:
            return f"HTTP {attempt.status}: {error}"
    return None
