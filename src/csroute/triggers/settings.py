"""The ``triggers:`` section of the configuration file (docs/triggers.md).

The section and its checks have one home here; ``csroute.config`` only names
``TriggerConfig`` and calls ``problems``. Nothing here imports the rest of csroute at module
level, so every command can load the configuration without the Custify client.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from csroute.custify.settings import CustifyConnectionConfig
from csroute.shape import Section

DEFAULT_INTERVAL_S = 60.0
"""How often a polling trigger looks for new records: one request per poll on an idle account
(two for segments and playbooks), so all 24 triggers cost about 5% of Custify's default budget."""
DEFAULT_RECONCILE_S = 900.0
"""How often a trigger that Custify pushes to still polls, to catch a webhook that never came."""
DEFAULT_SHARE = 0.10
"""The most of an API key's request budget that polling may take, so delivery never starves."""
SIGNATURE_HEADER = "X-Custify-Signature"
"""The default of ``push.signature_header`` (what csroute's Custify sandbox sends)."""


class TrackOutput(Section):
    """Append each record to the event pipeline as a ``track`` event from ``source``."""

    source: str
    event: str | None = None
    """The event name; default ``Custify <trigger title>``, e.g. ``Custify Ticket Created``."""


class ScopeConfig(Section):
    """Which entity a per-entity listing (files, customer objectives) reads."""

    company: str | None = None
    """A company's internal (Custify) id."""
    company_id: str | None = None
    """A company by your id (customer objectives only)."""
    person: str | None = None
    """A person's internal id (files only)."""
    each_company: bool = False
    """Read every company's listing in turn: one request per company (and per page) per poll."""


class PushConfig(Section):
    """Receive Custify's outgoing webhooks for this trigger at ``/triggers/<name>/webhook``.

    Custify does not publish the signature header's name nor the envelope's shape, so each is
    a setting; the defaults match csroute's Custify sandbox.
    """

    secret: str
    signature_header: str = SIGNATURE_HEADER
    """Holds the HMAC-SHA256 of the raw body, in hex, optionally prefixed ``sha256=``."""
    event_field: str = "event"
    """Dotted path of the event name in the envelope (``note.created``...)."""
    record_field: str = "data"
    """Dotted path of the record in the envelope."""
    events: list[str] | None = None
    """Event names that fire this trigger; default ``<resource>.<created|updated>``."""


class TriggerConfig(Section):
    type: str
    """A trigger of docs/triggers.md: ``ticket_created`` or its title, ``Ticket Created``."""
    connection: str | None = None
    """A ``custify_connections`` name; default as for ``csroute custify``."""
    interval_s: float | None = None
    """Seconds between polls; default 60, or 900 with ``push`` (polling then reconciles)."""
    backfill: int = 0
    """On the first run, hand on the newest N existing records too (default: none, from now)."""
    since: str | None = None
    """On the first run, hand on every record stamped at or after this ISO-8601 time."""
    scope: ScopeConfig | None = None
    share: float = DEFAULT_SHARE
    """At most this fraction of the connection's request budget is spent polling (all the
    triggers of one API key together keep to the smallest share any of them sets)."""
    track: TrackOutput | None = None
    webhook: str | None = None
    """POST each record as JSON to this URL; a non-2xx answer is retried at the next poll."""
    push: PushConfig | None = None
    enabled: bool = True

    def interval(self) -> float:
        if self.interval_s is not None:
            return self.interval_s
        return DEFAULT_RECONCILE_S if self.push is not None else DEFAULT_INTERVAL_S


def problems(
    triggers: Mapping[str, TriggerConfig],
    sources: Collection[str],
    connections: Mapping[str, CustifyConnectionConfig],
    started: Collection[str] = (),
) -> list[str]:
    """Cross-key checks of every trigger against the configured ``sources`` (names) and Custify
    ``connections``, each prefixed with its key path. ``started``: the triggers a workflow
    starts from (those need no other output)."""
    if not triggers:  # the checks import the Custify client: not for commands that need none
        return []
    from csroute.custify.client.connection import ConnectionNotFound, resolve
    from csroute.triggers.catalog import PUSHED, find

    found: list[str] = []
    for name, t in triggers.items():
        where = f"triggers.{name}"
        trigger = find(t.type)
        if trigger is None:
            found.append(f"{where}.type: unknown trigger {t.type!r} (see docs/triggers.md)")
            continue
        if "/" in name or not name:
            found.append(f"{where}: a trigger name must be non-empty and have no '/'")
        try:
            resolve(connections, t.connection)
        except ConnectionNotFound as e:
            found.append(f"{where}.connection: {e}")
        if t.interval_s is not None and t.interval_s <= 0:
            found.append(f"{where}.interval_s: must be positive (got {t.interval_s})")
        if not 0 < t.share <= 1:
            found.append(f"{where}.share: must be above 0 and at most 1 (got {t.share})")
        if t.backfill < 0:
            found.append(f"{where}.backfill: must be 0 or more (got {t.backfill})")
        if t.backfill and t.since is not None:
            found.append(f"{where}: backfill and since cannot both be set")
        if t.since is not None and not is_iso(t.since):
            found.append(f"{where}.since: must be an ISO-8601 time such as 2026-01-31T00:00:00Z")
        if t.track is None and t.webhook is None and name not in started:
            found.append(
                f"{where}: needs somewhere to send records (track, webhook, or a workflow)"
            )
        if t.track is not None and t.track.source not in sources:
            found.append(f"{where}.track.source: no source named {t.track.source!r}")
        if t.webhook is not None and not t.webhook.startswith(("http://", "https://")):
            found.append(f"{where}.webhook: must be an http:// or https:// URL")
        if t.push is not None and trigger.resource.push is None:
            pushed = ", ".join(sorted(PUSHED))
            found.append(f"{where}.push: Custify pushes only {pushed}, not {trigger.title}")
        if t.push is not None and not t.push.secret:
            found.append(f"{where}.push.secret: must not be empty")
        found.extend(f"{where}.scope{p}" for p in _scope_problems(trigger.resource.scoped, t))
    return found


def _scope_problems(scoped: str | None, t: TriggerConfig) -> list[str]:
    scope = t.scope
    if scoped is None:
        return [": this trigger reads one listing for the account and takes no scope"] * bool(scope)
    if scope is None:
        return [": required (company, company_id, person or each_company: true)"]
    given = [n for n in ("company", "company_id", "person") if getattr(scope, n)]
    given += ["each_company"] * scope.each_company
    if len(given) != 1:
        return [": give exactly one of company, company_id, person, each_company"]
    allowed = {"files": ("company", "person", "each_company")}.get(
        scoped, ("company", "company_id", "each_company")
    )
    if given[0] not in allowed:
        return [f".{given[0]}: not available here (use one of {', '.join(allowed)})"]
    return []


def is_iso(value: str) -> bool:
    from datetime import datetime

    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
