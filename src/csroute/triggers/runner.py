"""The configured triggers of one process: their polling loops (``csroute serve``, worker
role), the outgoing webhooks Custify pushes to them, and one poll on demand (tests, CLI).

Pushed and polled records meet in ``hand_on``: for a trigger Custify pushes to, each record
(id and timestamp) is handed on once under a per-trigger lock and remembered in the store, so
a webhook retried by Custify, or a record both pushed and then found by the reconciling poll,
goes out once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from csroute.custify.client import AsyncCustify
from csroute.custify.client.connection import Connection, resolve
from csroute.custify.settings import CustifyConnectionConfig
from csroute.destinations.base import RateLimit
from csroute.events.errors import RequestError
from csroute.ops.params import decode
from csroute.router.ratelimit import LIMITERS, Limiters
from csroute.store.base import Store
from csroute.store.settings import StoreConfig
from csroute.triggers import metrics
from csroute.triggers.catalog import Trigger, find
from csroute.triggers.outputs import Outputs
from csroute.triggers.poller import Handler, Output, Poller, output, record_id, scope_settings
from csroute.triggers.settings import DEFAULT_SHARE, TriggerConfig

log = logging.getLogger("csroute.triggers")

KEEP_HANDED_ON_S: Final = 7 * 86400.0
"""How long a trigger that Custify pushes to remembers a record it handed on: a webhook
retried, or the same record polled, within this time is not handed on again."""


@dataclass(slots=True)
class Running:
    name: str
    config: TriggerConfig
    trigger: Trigger
    poller: Poller
    outputs: Outputs
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def share_limit(connection: Connection, share: float) -> RateLimit:
    """The slice of the key's budget polling may use, under a limiter key of its own."""
    limit = connection.rate_limit
    return RateLimit(limit.requests * share, limit.per_seconds, f"{limit.key}:triggers")


def signed(secret: str, body: bytes, given: str) -> bool:
    """Whether ``given`` (hex, optionally ``sha256=``-prefixed) is the body's HMAC-SHA256."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = given.strip().removeprefix("sha256=").lower()
    return hmac.compare_digest(expected.encode(), given.encode("ascii", "replace"))


def at_path(envelope: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(envelope, dict):
            return None
        envelope = envelope.get(part)
    return envelope


class LeaseLost(Exception):
    """Another worker process holds the trigger now."""


class Setup(Protocol):
    """The sections of the configuration the triggers read (``csroute.config.Config`` has
    them): named, so that this package need not import the whole configuration."""

    @property
    def store(self) -> StoreConfig: ...

    @property
    def triggers(self) -> Mapping[str, TriggerConfig]: ...

    @property
    def custify_connections(self) -> Mapping[str, CustifyConnectionConfig]: ...


class Triggers:
    def __init__(
        self,
        config: Setup,
        store: Store,
        *,
        names: list[str] | None = None,
        limiters: Limiters = LIMITERS,
        clock: Callable[[], float] = time.time,
        on_record: Handler | None = None,
    ) -> None:
        """Every enabled trigger of ``config`` (or those ``names``, enabled or not).

        ``on_record`` also takes every record handed on (the workflows' runs are created
        there), before the trigger's cursor moves past it.
        """
        self.store = store
        self.on_record = on_record
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ttl_s = config.store.lease_ttl_s
        self.clock = clock
        self.clients: dict[str, AsyncCustify] = {}
        self.running: dict[str, Running] = {}
        chosen = {
            name: t
            for name, t in config.triggers.items()
            if (t.enabled if names is None else name in names)
        }
        shares: dict[str, float] = {}
        connections: dict[str, Connection] = {}
        for name, t in chosen.items():
            connection = connections[name] = resolve(config.custify_connections, t.connection)
            key = connection.rate_limit.key
            shares[key] = min(shares.get(key, DEFAULT_SHARE), t.share)
        for name, t in chosen.items():
            trigger = find(t.type)
            assert trigger is not None, "the configuration check refuses unknown triggers"
            connection = connections[name]
            client = self.clients.get(connection.name)
            if client is None:
                client = self.clients[connection.name] = AsyncCustify(connection=connection)
            share = limiters.get(share_limit(connection, shares[connection.rate_limit.key]))
            poller = Poller(
                name,
                trigger,
                client,
                store,
                share,
                scope=scope_settings(t.scope),
                backfill=t.backfill,
                since=t.since,
            )
            self.running[name] = Running(name, t, trigger, poller, Outputs(name, t, store))
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    # -- polling ------------------------------------------------------------------------

    async def poll(self, name: str) -> int:
        """One poll of a trigger; returns how many records it handed on."""
        running = self.running[name]
        before = running.poller.requests
        try:
            handed = await running.poller.poll(lambda out: self.hand_on(running, out))
        except Exception:
            metrics.POLLS.labels(name, "failed").inc()
            raise
        finally:
            metrics.REQUESTS.labels(name).inc(running.poller.requests - before)
        metrics.POLLS.labels(name, "ok").inc()
        return handed

    async def hand_on(self, running: Running, out: Output) -> bool:
        """Give a record to the trigger's outputs, once; False when it already went."""
        if running.config.push is None:
            await self._outputs(running, out)
        else:
            key = f"{out['id']}@{out['at']}"
            async with running.lock:
                if await self.store.handed_on(running.name, [key]):
                    return False
                await self._outputs(running, out)
                await self.store.mark_handed_on(running.name, [key], time.time(), KEEP_HANDED_ON_S)
        metrics.HANDED_ON.labels(running.name, out["via"]).inc()
        return True

    async def _outputs(self, running: Running, out: Output) -> None:
        await running.outputs(out)
        if self.on_record is not None:
            await self.on_record(out)

    async def holds(self, name: str) -> bool:
        """Whether this process may poll the trigger now. Worker processes sharing a PostgreSQL
        store take turns through a lease, so two never poll one trigger at once (which could
        hand a record on twice); with SQLite the only worker always holds it."""
        key = f"trigger:{name}"
        leases = await self.store.lease(key, 1, self.owner, self.clock(), self.ttl_s)
        return 0 in leases.held

    async def poll_holding(self, name: str) -> int:
        """One poll, renewing the lease as it runs; a lease lost mid-poll stops the poll (the
        cursor is saved record by record, so the next holder goes on from there)."""
        poll = asyncio.create_task(self.poll(name))
        while True:
            done, _ = await asyncio.wait({poll}, timeout=self.ttl_s / 3)
            if done:
                return await poll
            if not await self.holds(name):
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll
                raise LeaseLost(f"another worker took trigger {name!r} over")

    def start(self) -> None:
        for running in self.running.values():
            self._tasks.append(asyncio.create_task(self._loop(running)))

    async def _loop(self, running: Running) -> None:
        while not self._stopping.is_set():
            try:
                if await self.holds(running.name):
                    await self.poll_holding(running.name)
            except Exception as e:
                log.warning(f"trigger {running.name!r}: poll failed, retried next time: {e}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), running.config.interval())

    async def stop(self) -> None:
        """Let polls in flight finish (a cursor is saved only after its handler returned)."""
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for running in self.running.values():
            await running.outputs.close()
        for client in self.clients.values():
            await client.close()

    # -- push ---------------------------------------------------------------------------

    async def receive(self, name: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """One outgoing-webhook delivery from Custify: the JSON answer, or a ``RequestError``
        naming the field and the rule it broke."""
        running = self.running.get(name)
        if running is None or running.config.push is None:
            raise RequestError(
                404, "name", "not_found", f"no trigger named {name!r} receives Custify webhooks"
            )
        push, trigger = running.config.push, running.trigger
        header = push.signature_header
        given = headers.get(header)
        if not given:
            metrics.WEBHOOKS.labels(name, "missing_signature").inc()
            raise RequestError(401, header, "signature", f"missing signature header {header}")
        if not signed(push.secret, body, given):
            metrics.WEBHOOKS.labels(name, "bad_signature").inc()
            raise RequestError(401, header, "signature", "the signature does not match the body")
        try:
            envelope = decode(body, dict[str, Any])
        except RequestError:
            metrics.WEBHOOKS.labels(name, "invalid").inc()
            raise
        event = at_path(envelope, push.event_field)
        wanted = push.events or [f"{trigger.resource.push}.{trigger.kind}"]
        if event not in wanted:
            metrics.WEBHOOKS.labels(name, "ignored").inc()
            return {"ignored": f"{push.event_field} is {event!r}, not {' or '.join(wanted)}"}
        record = at_path(envelope, push.record_field)
        if not isinstance(record, dict) or not record_id(record) or not record.get(trigger.field):
            metrics.WEBHOOKS.labels(name, "invalid").inc()
            raise RequestError(
                400,
                push.record_field,
                "record",
                f"{push.record_field} must be a record with id and {trigger.field}",
            )
        try:
            handed = await self.hand_on(running, output(name, trigger, record, "push"))
        except Exception as e:
            metrics.WEBHOOKS.labels(name, "failed").inc()
            log.warning(f"trigger {name!r}: a pushed record was not handed on: {e}")
            raise RequestError(
                503, "", "hand_on", "the record could not be handed on; retry later"
            ) from None
        outcome = "accepted" if handed else "duplicate"
        metrics.WEBHOOKS.labels(name, outcome).inc()
        return {outcome: record_id(record)}
