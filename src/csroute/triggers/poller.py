"""The polling engine shared by every trigger.

One poll, per scope of the trigger: list newest first by the trigger's timestamp, page back
until a record is older than the cursor, then hand the new records on oldest first, saving the
cursor after each, so a crash or a failing handler repeats nothing that was handed on and skips
nothing that was not. The cursor is the newest timestamp handed on plus the ids handed on at
exactly that timestamp, so records sharing a timestamp neither skip nor repeat.

Every request first takes a slot of the triggers' share of the API key's budget (``share``),
then the key's own limiter inside the client, which delivery and the client share: polling can
never take more than its share, and never goes past the key's limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from csroute.custify.client import AsyncCustify
from csroute.custify.client.envelopes import Record
from csroute.router.ratelimit import Limiter
from csroute.store.base import Store, TriggerCursor
from csroute.triggers.catalog import Trigger

Output = dict[str, Any]
Handler = Callable[[Output], Awaitable[object]]

STARTED: Final = "*"
"""The scope whose cursor marks a per-entity trigger as started: an entity first seen later is
new, so all its records are handed on (rather than starting it from now)."""


@dataclass(frozen=True, slots=True)
class Scope:
    key: str
    params: dict[str, str]


def moment(value: Any) -> datetime | None:
    """A Custify timestamp as an aware datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def record_id(record: Record) -> str:
    return str(record.get("id") or record.get("_id") or "")


def is_new(stamp: datetime, id: str, cursor: TriggerCursor) -> bool:
    """Past the cursor: stamped after it, or at it and not among the ids handed on."""
    at = moment(cursor.at)
    return at is None or stamp > at or (stamp == at and id not in cursor.ids)


def advanced(cursor: TriggerCursor, at: str, id: str) -> TriggerCursor:
    """The cursor once the record ``id`` stamped ``at`` is handed on (records come oldest first)."""
    if moment(cursor.at) == moment(at):
        return TriggerCursor(cursor.at, (*cursor.ids, id))
    return TriggerCursor(at, (id,))


def output(name: str, trigger: Trigger, record: Record, via: str) -> Output:
    """The envelope every handler receives (catalog.output_shape documents it)."""
    return {
        "trigger": name,
        "type": trigger.key,
        "title": trigger.title,
        "resource": trigger.resource.slug,
        "id": record_id(record),
        "at": record.get(trigger.field),
        "via": via,
        "record": record,
    }


class Poller:
    """One configured trigger's polling: ``poll`` once, or ``sample`` for a test run."""

    def __init__(
        self,
        name: str,
        trigger: Trigger,
        client: AsyncCustify,
        store: Store,
        share: Limiter,
        *,
        scope: dict[str, Any] | None = None,
        backfill: int = 0,
        since: str | None = None,
    ) -> None:
        self.name = name
        self.trigger = trigger
        self.client = client
        self.store = store
        self.share = share
        self.scope = scope or {}
        self.backfill = backfill
        self.since = since
        self.requests = 0

    # -- reading ------------------------------------------------------------------------

    @property
    def path(self) -> str:
        resource = self.trigger.resource
        if resource.slug == "time_track":
            return self.client.connection.time_track_path
        return resource.path

    async def _pace(self) -> None:
        """Before each request: a slot of the triggers' share of the key's budget."""
        await self.share.acquire()
        self.requests += 1

    def _pages(
        self, path: str, key: str, per_page: int, params: dict[str, Any]
    ) -> AsyncIterator[Record]:
        return self.client.listing(path, key, per_page, params=params, pace=self._pace)

    async def scopes(self) -> list[Scope]:
        """The listings this trigger reads: one, one per type, or one per entity."""
        resource = self.trigger.resource
        if resource.scoped is None:
            return [
                Scope("&".join(f"{k}={v}" for k, v in variant.items()), dict(variant))
                for variant in resource.variants
            ]
        company_param = "companyId" if resource.scoped == "files" else "company"
        if self.scope.get("each_company"):
            companies = self._pages("/company/all", "companies", 200, {})
            return [
                Scope(f"company:{c['id']}", {company_param: str(c["id"])})
                async for c in companies
                if c.get("id")
            ]
        for name, param in (
            ("company", company_param),
            ("company_id", "company_id"),
            ("person", "peopleId"),
        ):
            if self.scope.get(name):
                return [Scope(f"{name}:{self.scope[name]}", {param: str(self.scope[name])})]
        raise ValueError(f"{self.trigger.title} needs a scope")

    async def newest_first(self, scope: Scope) -> AsyncGenerator[Record, None]:
        """The scope's records, newest first by the trigger's timestamp."""
        resource, stamp = self.trigger.resource, self.trigger.field
        params: dict[str, Any] = dict(scope.params)
        if resource.sort == "sorting":
            params["sorting"] = {"field": stamp, "direction": "desc"}
        elif resource.sort == "sort":
            params |= {"sort": stamp, "order": "desc"}
        records = self._pages(self.path, resource.key, resource.per_page, params)
        if resource.sort != "none":
            async for record in records:
                yield record
            return
        everything = [r async for r in records]
        epoch = datetime.min.replace(tzinfo=UTC)
        everything.sort(key=lambda r: moment(r.get(stamp)) or epoch, reverse=True)
        for record in everything:
            yield record

    async def new_records(
        self, scope: Scope, cursor: TriggerCursor | None, limit: int | None = None
    ) -> list[Record]:
        """Records past ``cursor`` (all, with None), at most the newest ``limit``, oldest first.

        A record listed twice (pages shift while records are added) counts once; a record
        without the timestamp cannot be placed and is left out.
        """
        found: list[tuple[datetime, Record]] = []
        seen: set[str] = set()
        async with contextlib.aclosing(self.newest_first(scope)) as newest:
            async for record in newest:
                stamp, id = moment(record.get(self.trigger.field)), record_id(record)
                if stamp is None or not id or id in seen:
                    continue
                seen.add(id)
                if cursor is not None and not is_new(stamp, id, cursor):
                    if stamp < (moment(cursor.at) or stamp):
                        break  # older than the cursor: everything after is too
                    continue
                found.append((stamp, record))
                if limit is not None and len(found) >= limit:
                    break
        found.reverse()
        found.sort(key=lambda pair: pair[0])  # stable: keeps the listing's order on ties
        return [record for _, record in found]

    # -- polling ------------------------------------------------------------------------

    async def poll(self, handler: Handler) -> int:
        """One poll of every scope; returns how many records were handed on."""
        cursors = await self.store.trigger_cursors(self.name)
        started = STARTED in cursors
        handed = 0
        for scope in await self.scopes():
            cursor = cursors.get(scope.key)
            if cursor is None and started and self.trigger.resource.scoped:
                cursor = TriggerCursor("")  # an entity new since the trigger started
            if cursor is None:
                handed += await self._first_run(scope, handler)
            else:
                records = await self.new_records(scope, cursor)
                handed += await self._hand_on(scope, cursor, records, handler, saved=True)
        if not started:
            now = datetime.now(UTC).isoformat()
            await self.store.save_trigger_cursor(self.name, STARTED, TriggerCursor(now))
        return handed

    async def _first_run(self, scope: Scope, handler: Handler) -> int:
        """From now by default: the cursor goes to the newest record, nothing is handed on;
        ``since`` hands on what is stamped from then on, ``backfill`` the newest N."""
        if self.since is not None:
            since = TriggerCursor(self.since)
            return await self._hand_on(scope, since, await self.new_records(scope, since), handler)
        if self.backfill:
            start = TriggerCursor("")
            records = await self.new_records(scope, None, self.backfill)
            return await self._hand_on(scope, start, records, handler)
        newest = await self.new_records(scope, None, 1)
        cursor = TriggerCursor("")
        if newest:
            at = str(newest[0][self.trigger.field])
            level = await self.new_records(scope, TriggerCursor(at))
            cursor = TriggerCursor(at, tuple(record_id(r) for r in level))
        await self.store.save_trigger_cursor(self.name, scope.key, cursor)
        return 0

    async def _hand_on(
        self,
        scope: Scope,
        cursor: TriggerCursor,
        records: list[Record],
        handler: Handler,
        *,
        saved: bool = False,
    ) -> int:
        """Hand the records on in order, the cursor saved after each one (or, with none, once
        unless it is ``saved`` already)."""
        for record in records:
            cursor = advanced(cursor, str(record[self.trigger.field]), record_id(record))
            await handler(output(self.name, self.trigger, record, "poll"))
            await self.store.save_trigger_cursor(self.name, scope.key, cursor)
        if not records and not saved:
            await self.store.save_trigger_cursor(self.name, scope.key, cursor)
        return len(records)

    async def sample(self, limit: int = 5) -> list[Output]:
        """The newest ``limit`` records (of the first listings that have some), newest first,
        touching no cursor: a test run."""
        samples: list[Output] = []
        for scope in await self.scopes():
            wanted = limit - len(samples)
            for record in reversed(await self.new_records(scope, None, wanted)):
                samples.append(output(self.name, self.trigger, record, "poll"))
            if len(samples) >= limit:
                break
        return samples


def scope_settings(scope: Any) -> dict[str, Any]:
    """A ``ScopeConfig`` as the poller takes it."""
    if scope is None:
        return {}
    names: Iterable[str] = ("company", "company_id", "person", "each_company")
    return {name: getattr(scope, name) for name in names}
