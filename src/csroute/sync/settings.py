"""A sync's settings (``SyncConfig``, from the configuration file or the command line) turned
into a ``Plan``, with every mistake reported before anything is read or sent."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from csroute.custify.api import MAX_ASYNCHRONOUS_JOBS
from csroute.shape import suggestion
from csroute.sync.config import SyncConfig
from csroute.sync.mapping import Mapping
from csroute.sync.plan import Batching, Plan
from csroute.sync.templates import (
    BATCH,
    BY_JOB_TYPE,
    TEMPLATE_NAMES,
    TEMPLATES,
    Template,
    template_key,
)

MANUAL = "manual"


class SettingsError(ValueError):
    """The sync's settings cannot work; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Target:
    plan: Plan
    mapping: Mapping
    base_url: str | None
    """The manual ``url``'s scheme and host, which replace the connection's base URL."""
    headers: dict[str, str]


def problems_of(sync: SyncConfig) -> list[str]:
    try:
        target(sync)
    except SettingsError as e:
        return [str(e)]
    return []


def target(sync: SyncConfig) -> Target:
    mapping = Mapping(dict(sync.map), frozenset(sync.exclude))
    if sync.batch_size < 1:
        raise SettingsError(f"batch_size: must be at least 1 (got {sync.batch_size})")
    key = template_key(sync.template)
    if key == MANUAL:
        return _manual(sync, mapping)
    if sync.manual is not None:
        raise SettingsError("manual: only with template 'manual'")
    if key == BATCH:
        return Target(_batched(BY_JOB_TYPE[sync.job_type or "people"], sync), mapping, None, {})
    template = TEMPLATES.get(key)
    if template is None:
        names = [*TEMPLATE_NAMES, MANUAL]
        raise SettingsError(
            f"template: unknown template {sync.template!r}{suggestion(sync.template, names)}"
        )
    if sync.job_type is not None:
        raise SettingsError("job_type: only with the Send Batch Request template")
    if not sync.batch:
        return Target(Plan(template), mapping, None, {})
    if template.job_type is None:
        batchable = ", ".join(t.name for t in BY_JOB_TYPE.values())
        raise SettingsError(
            f"batch: {template.name} has no batch endpoint (batchable: {batchable})"
        )
    return Target(_batched(template, sync), mapping, None, {})


def _batched(template: Template, sync: SyncConfig) -> Plan:
    if sync.batch_size > MAX_ASYNCHRONOUS_JOBS:
        raise SettingsError(
            f"batch_size: Custify takes at most {MAX_ASYNCHRONOUS_JOBS} jobs per asynchronous "
            f"batch (got {sync.batch_size})"
        )
    return Plan(template, Batching(size=sync.batch_size, job_type=template.job_type))


def _manual(sync: SyncConfig, mapping: Mapping) -> Target:
    manual = sync.manual
    if manual is None or (manual.path is None) == (manual.url is None):
        raise SettingsError("manual: give exactly one of path and url")
    if any(name.lower() == "authorization" for name in manual.headers):
        raise SettingsError(
            "manual.headers: Authorization comes from the connection's API key; leave it out"
        )
    base_url, query = None, {}
    path = manual.path or ""
    if manual.url is not None:
        parts = urlsplit(manual.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(f"manual.url: not an http(s) URL: {manual.url!r}")
        base_url, path = f"{parts.scheme}://{parts.netloc}", parts.path or "/"
        query = dict(parse_qsl(parts.query))
    if not path.startswith("/"):
        raise SettingsError(f"manual.path: must start with / (got {path!r})")
    method = manual.method.upper()
    template = Template(
        key=MANUAL,
        name="the manual request",
        method=method,
        path=path,
        fields={},
        required=(),
        extras="",
    )
    batching = None
    if manual.batch_property is not None:
        batching = Batching(
            size=sync.batch_size,
            property=manual.batch_property,
            other=dict(manual.other),
            path=path,
            method=method,
        )
    elif manual.other:
        raise SettingsError("manual.other: only with batch_property (batched requests)")
    return Target(Plan(template, batching, query), mapping, base_url, dict(manual.headers))
