"""Custify's Outgoing Webhooks, emulated: endpoints subscribe to entity events (notes and tasks
created or updated, survey responses received); each delivery is a JSON envelope signed with
HMAC-SHA256 under the endpoint's secret, retried up to 5 times with exponential backoff on
anything but a 2xx, and an endpoint is disabled after 50 consecutive failed deliveries.

Custify does not publish the signature header's name nor the envelope's exact shape; the
sandbox sends ``X-Custify-Signature: <hex digest>`` (the header is a per-endpoint setting) and
``{"id", "event", "created_at", "data"}``, where ``id`` is the delivery's and stays the same
across its retries. Subscriptions are managed under ``/__sandbox/webhooks``:

- ``POST`` ``{url, secret, events: [...], headers?, signature_header?, backoff_s?}`` subscribes;
- ``GET`` lists subscriptions with every delivery's attempts and statuses;
- ``DELETE /__sandbox/webhooks/{id}`` unsubscribes.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox.gate import ADMIN_PREFIX
from csroute.custify.sandbox.responses import ApiError, Record, json_object, json_response
from csroute.custify.sandbox.state import now_iso

EVENTS: Final = (
    "note.created",
    "note.updated",
    "task.created",
    "task.updated",
    "survey_response.received",
)
RETRIES: Final = 5
DISABLE_AFTER: Final = 50
"""Consecutive failed deliveries after which Custify disables an endpoint."""
TIMEOUT_S: Final = 10.0


@dataclass
class Subscription:
    id: str
    url: str
    secret: str
    events: list[str]
    headers: dict[str, str]
    signature_header: str
    backoff_s: float
    enabled: bool = True
    failures: int = 0  # consecutive failed deliveries
    deliveries: list[Record] = field(default_factory=list)

    def shown(self) -> Record:
        return {
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "signature_header": self.signature_header,
            "enabled": self.enabled,
            "consecutive_failures": self.failures,
            "deliveries": self.deliveries,
        }


class Outgoing:
    """The subscriptions of one sandbox and the deliveries under way."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._ids = 0

    def subscribe(self, body: Record) -> Subscription:
        url, secret, events = body.get("url"), body.get("secret"), body.get("events")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ApiError(400, "url must be an http:// or https:// URL")
        if not isinstance(secret, str) or not secret:
            raise ApiError(400, "secret is required")
        if not isinstance(events, list) or not events or not set(events) <= set(EVENTS):
            raise ApiError(400, f"events must be a non-empty list of {', '.join(EVENTS)}")
        headers = body.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ApiError(400, "headers must map names to strings")
        backoff = body.get("backoff_s", 1.0)
        if not isinstance(backoff, int | float) or backoff < 0:
            raise ApiError(400, "backoff_s must be a number of seconds, 0 or more")
        self._ids += 1
        subscription = Subscription(
            f"wh{self._ids}",
            url,
            secret,
            list(events),
            dict(headers),
            str(body.get("signature_header") or "X-Custify-Signature"),
            float(backoff),
        )
        self.subscriptions[subscription.id] = subscription
        return subscription

    def emit(self, event: str, record: Record) -> None:
        for subscription in self.subscriptions.values():
            if subscription.enabled and event in subscription.events:
                self._ids += 1
                envelope = {
                    "id": f"dl{self._ids}",
                    "event": event,
                    "created_at": now_iso(),
                    "data": copy.deepcopy(record),
                }
                task = asyncio.create_task(self._deliver(subscription, envelope))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _deliver(self, subscription: Subscription, envelope: Record) -> None:
        body = msgspec.json.encode(envelope)
        signature = hmac.new(subscription.secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            **subscription.headers,
            "Content-Type": "application/json",
            subscription.signature_header: signature,
        }
        log: Record = {"id": envelope["id"], "event": envelope["event"], "statuses": []}
        subscription.deliveries.append(log)
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(RETRIES + 1):
                if attempt:
                    await asyncio.sleep(subscription.backoff_s * 2 ** (attempt - 1))
                try:
                    async with session.post(subscription.url, data=body, headers=headers) as r:
                        status: int | str = r.status
                except (aiohttp.ClientError, TimeoutError) as error:
                    status = type(error).__name__
                log["statuses"].append(status)
                if isinstance(status, int) and 200 <= status < 300:
                    log["delivered"] = True
                    subscription.failures = 0
                    return
        log["delivered"] = False
        subscription.failures += 1
        if subscription.failures >= DISABLE_AFTER:
            subscription.enabled = False


def outgoing_of(request: Request) -> Outgoing:
    outgoing: Outgoing = request.app.state.webhooks
    return outgoing


def emit(request: Request, event: str, record: Record) -> None:
    """Announce a change to the endpoints subscribed to ``event``."""
    outgoing_of(request).emit(event, record)


async def subscribe(request: Request) -> Response:
    return json_response(outgoing_of(request).subscribe(await json_object(request)).shown())


async def listing(request: Request) -> Response:
    shown: list[Any] = [s.shown() for s in outgoing_of(request).subscriptions.values()]
    return json_response({"webhooks": shown, "total": len(shown)})


async def unsubscribe(request: Request) -> Response:
    removed = outgoing_of(request).subscriptions.pop(request.path_params["id"], None)
    if removed is None:
        raise ApiError(404, "Webhook not found")
    return json_response({"deleted": removed.id})


ROUTES = [
    Route(f"{ADMIN_PREFIX}/webhooks", subscribe, methods=["POST"]),
    Route(f"{ADMIN_PREFIX}/webhooks", listing, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/webhooks/{{id}}", unsubscribe, methods=["DELETE"]),
]
