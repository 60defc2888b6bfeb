"""What one step does: a Custify client action, a webhook call, or a ``track`` event appended to
the pipeline, and which of its errors are worth another try.

``Retryable``: a 429 (after the client's own tries, which pause the key's shared limiter for
``Retry-After``), a 5xx, or no answer at all. ``Permanent``: everything a retry cannot fix (a
refused input, a missing record, a bad key); the run stops there until retried by hand.
With ``dry_run`` nothing is sent: each step adds the request it would make to ``requests``
(Custify's API key masked) and answers ``{}``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any, Final, Protocol

import aiohttp
import msgspec

from csroute.custify.client import AsyncCustify
from csroute.custify.client.actions import BY_KEY
from csroute.custify.client.connection import ConnectionNotFound, resolve
from csroute.custify.client.errors import (
    CustifyError,
    RateLimited,
    ServerError,
    TransportError,
)
from csroute.custify.settings import CustifyConnectionConfig
from csroute.events.validate import accept_event
from csroute.network import failure_message
from csroute.secrets import MIN_SECRET_LEN, Scrubber, scrubber
from csroute.store.base import Store, StoreUnavailable
from csroute.store.settings import StoreConfig
from csroute.triggers.settings import TriggerConfig
from csroute.workflows.settings import StepConfig, WorkflowConfig

WEBHOOK_TIMEOUT_S: Final = 30.0


class Setup(Protocol):
    """The sections of the configuration the workflows read (``csroute.config.Config`` has
    them): named, so that this package need not import the whole configuration."""

    @property
    def store(self) -> StoreConfig: ...

    @property
    def workflows(self) -> Mapping[str, WorkflowConfig]: ...

    @property
    def triggers(self) -> Mapping[str, TriggerConfig]: ...

    @property
    def custify_connections(self) -> Mapping[str, CustifyConnectionConfig]: ...


def scrubbing(config: Setup, declared: Collection[str]) -> Scrubber:
    """Masks every secret of the configuration (``declared``: the write keys, the admin token,
    the store's password, destinations' secret settings; and the Custify API keys and push
    secrets) wherever a step's input, output or error would show it: in the store, the CLI and
    the logs."""
    found = set(declared)
    found.update(c.api_key for c in config.custify_connections.values())
    found.update(t.push.secret for t in config.triggers.values() if t.push is not None)
    return scrubber(frozenset(v for v in found if len(v.strip()) >= MIN_SECRET_LEN))


class StepFailed(Exception):
    """The step did not do its work; ``retryable`` says whether another try may."""

    def __init__(self, message: str, *, retryable: bool, retry_after_s: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class Steps:
    """Runs steps for one process (or one dry run): a client per Custify connection, one HTTP
    session for webhooks, the store for track events."""

    def __init__(self, config: Setup, store: Store | None, *, dry_run: bool = False) -> None:
        self.config = config
        self.store = store
        self.dry_run = dry_run
        self.requests: list[dict[str, Any]] = []
        self._clients: dict[str, AsyncCustify] = {}
        self._session: aiohttp.ClientSession | None = None

    def client(self, connection: str | None) -> AsyncCustify:
        resolved = resolve(self.config.custify_connections, connection)
        client = self._clients.get(resolved.name)
        if client is None:
            client = AsyncCustify(connection=resolved, dry_run=self.dry_run)
            self._clients[resolved.name] = client
        return client

    async def run(
        self, step: StepConfig, connection: str | None, input: Any, body: Any, label: str
    ) -> Any:
        """The step's output; raises ``StepFailed``. ``label`` names the run and step in the
        ``messageId`` of a track event, so a repeat after a crash can be recognised."""
        if step.action is not None:
            return await self._action(step.action, step.connection or connection, input, body)
        if step.webhook is not None:
            return await self._webhook(step.webhook, body)
        assert step.track is not None, "the configuration check wants one kind per step"
        return await self._track(step, input, body, label)

    async def _action(self, key: str, connection: str | None, values: Any, body: Any) -> Any:
        action = BY_KEY[key]
        try:
            client = self.client(connection)
        except ConnectionNotFound as e:
            raise StepFailed(str(e), retryable=False) from None
        before = len(client.recorded)
        try:
            output = await action.call(client, dict(values or {}), body)
        except RateLimited as e:
            # The key's shared limiter pauses for Retry-After: the next try waits there.
            client.limiter.throttled_by_server(e.retry_after_s)
            raise StepFailed(str(e), retryable=True, retry_after_s=0.0) from None
        except (ServerError, TransportError) as e:
            raise StepFailed(str(e), retryable=True) from None
        except CustifyError as e:
            raise StepFailed(str(e), retryable=False) from None
        except KeyError as e:  # a required argument computed to null
            raise StepFailed(f"{key}: {e.args[0]} is required", retryable=False) from None
        except (TypeError, ValueError) as e:  # a value of the wrong kind for the client
            raise StepFailed(f"{key}: {e}", retryable=False) from None
        if self.dry_run:
            self.requests.extend(
                {"step": "action", "action": key, **r} for r in client.recorded[before:]
            )
            return {}
        return output

    async def _webhook(self, url: str, body: Any) -> Any:
        if self.dry_run:
            headers = {"Content-Type": "application/json", "User-Agent": "csroute"}
            self.requests.append(
                {"step": "webhook", "method": "POST", "url": url, "headers": headers, "body": body}
            )
            return {}
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"User-Agent": "csroute"})
        try:
            async with self._session.post(
                url,
                data=msgspec.json.encode(body),
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S),
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as e:
            raise StepFailed(failure_message("POST", url, e, 1), retryable=True) from None
        answer = _decoded(raw)
        if 200 <= status < 300:
            return {"status": status, "body": answer}
        text = f"POST {url}: HTTP {status}: {raw.decode(errors='replace').strip()[:300]}"
        retryable = status == 429 or status >= 500
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise StepFailed(text, retryable=retryable, retry_after_s=wait)

    async def _track(self, step: StepConfig, _input: Any, body: Any, label: str) -> Any:
        assert step.track is not None
        event: dict[str, Any] = {
            "type": "track",
            "event": step.track.event,
            "messageId": f"workflow:{label}",
            "anonymousId": f"workflow:{label}",
            "properties": body if isinstance(body, dict) else {"value": body},
        }
        user_id = _input.get("user_id") if isinstance(_input, dict) else None
        if user_id:
            event["userId"] = str(user_id)
        if self.dry_run:
            self.requests.append({"step": "track", "source": step.track.source, "event": event})
            return {}
        assert self.store is not None, "a track step needs the store"
        try:
            new = accept_event(event, "track", step.track.source, int(time.time() * 1000))
        except Exception as e:  # the gateway's validation: the event as built is refused
            raise StepFailed(f"track {step.track.event!r}: {e}", retryable=False) from None
        try:
            await self.store.append([new])
        except StoreUnavailable as e:
            raise StepFailed(f"track {step.track.event!r}: {e}", retryable=True) from None
        return {"messageId": event["messageId"]}

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None


def _decoded(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw.decode(errors="replace")[:1000]
