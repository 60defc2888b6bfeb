"""Where a trigger's records go: appended to the event pipeline as ``track`` events from a
named source, and/or POSTed as JSON to a webhook URL.

A record counts as handed on once every configured output took it; if one fails the poll stops
there and the record is offered again at the next poll (at least once: the ``track`` event's
``messageId`` and the webhook body's ``trigger``/``id``/``at`` let a receiver drop a repeat).
"""

from __future__ import annotations

import time

import aiohttp
import msgspec

from csroute.events.validate import accept_event
from csroute.store.base import Store
from csroute.triggers.poller import Output
from csroute.triggers.settings import TriggerConfig

WEBHOOK_TIMEOUT_S = 30.0


class OutputFailed(Exception):
    """An output did not take a record; it is offered again at the next poll."""


def track_event(out: Output, event_name: str | None) -> dict[str, object]:
    """The ``track`` event a record becomes: one anonymous user per record (so one record's
    trouble never holds another back), the person's ``user_id`` for people."""
    record = out["record"]
    event: dict[str, object] = {
        "type": "track",
        "event": event_name or f"Custify {out['title']}",
        "anonymousId": f"custify:{out['resource']}:{out['id']}",
        "messageId": f"custify-trigger:{out['trigger']}:{out['id']}:{out['at']}",
        "properties": out,
    }
    if out["resource"] == "person" and record.get("user_id"):
        event["userId"] = str(record["user_id"])
    return event


class Outputs:
    def __init__(self, name: str, config: TriggerConfig, store: Store) -> None:
        self.name = name
        self.config = config
        self.store = store
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, out: Output) -> None:
        track = self.config.track
        if track is not None:
            event = track_event(out, track.event)
            new = accept_event(event, "track", track.source, int(time.time() * 1000))
            await self.store.append([new])
        if self.config.webhook is not None:
            await self._post(self.config.webhook, out)

    async def _post(self, url: str, out: Output) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"User-Agent": "csroute"})
        try:
            async with self._session.post(
                url,
                data=msgspec.json.encode(out),
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S),
            ) as response:
                if not 200 <= response.status < 300:
                    raise OutputFailed(f"trigger {self.name}: webhook answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as e:
            raise OutputFailed(
                f"trigger {self.name}: webhook unreachable ({type(e).__name__})"
            ) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
