"""The configuration file: sources, destinations, connections and delivery policy.

Each package owns its section (``limits`` in ``events``, ``store`` in ``store``,
``custify_connections`` in ``custify``, ``syncs`` in ``sync``, ``triggers`` in ``triggers``)
with its checks; this module combines them and holds the pipeline's own sections. It imports
only those packages (docs/architecture.md), and the packages take their own section, never
the whole configuration.

One YAML file; ``${ENV_VAR}`` is substituted into its parsed values (so secrets stay out of the
file), which are checked against typed structs (csroute.shape), then across keys (connections
name real sources and destinations, destination settings match their type). Every problem is
reported with the key path it concerns, in plain words, all at once, so one ``csroute config
check`` run finds them all. Relative paths are relative to the file's directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from csroute import shape
from csroute.custify import settings as custify_settings
from csroute.custify.settings import CustifyConnectionConfig
from csroute.events.limits import Limits
from csroute.secrets import mask
from csroute.shape import Section
from csroute.store import settings as store_settings
from csroute.store.settings import StoreConfig
from csroute.sync.config import SyncConfig
from csroute.triggers import settings as trigger_settings
from csroute.triggers.settings import TriggerConfig
from csroute.workflows import settings as workflow_settings
from csroute.workflows.settings import WorkflowConfig


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists each one with its key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: int = 8080


class AdminConfig(Section):
    token: str = ""
    """Bearer token for the admin API, at least 16 characters; the API is off without it."""


class CaptureConfig(Section):
    """The live view of recent events (``csroute tail``, ``/admin/stream``): kept in memory,
    and only while somebody watches."""

    ring_size: int = 200
    """Records kept per source and per destination, for a viewer that connects later."""
    sample_rate: float = 1.0
    """Share of users whose events are captured (all of a sampled user's events, in order)."""
    max_per_s: float = 200.0
    """Records a second kept per source and per destination, at most; the rest are skipped
    (and counted), so watching a busy pipeline costs it little."""
    body_bytes: int = 2048
    """Characters of a destination's response body kept per record."""
    mask_fields: list[str] = []
    """Names of event fields (at any depth, e.g. ``email``) masked before capture."""


class LoggingConfig(Section):
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


class DeliveryPolicy(Section):
    """How the router delivers to one destination; each key may be overridden per destination."""

    concurrency: int = 8
    """Deliveries in flight at once; a user's own events still go one after another."""
    page_size: int = 1000
    max_attempts: int = 3
    max_retry_age_s: float = 3 * 3600
    """An event is dead-lettered once it failed at least ``max_attempts`` times AND its first
    failure is at least this old (RudderStack's policy: 3 attempts and 3 hours for 5xx)."""
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    timeout_s: float | None = None
    """Request timeout; defaults to the destination type's own."""
    batch_size: int | None = None
    """Events per batched request; defaults to the destination type's own (1 disables)."""
    rate_limit_per_s: float | None = None
    """Overrides the destination type's known rate limit (requests per second)."""


class DeliveryOverrides(Section):
    concurrency: int | None = None
    page_size: int | None = None
    max_attempts: int | None = None
    max_retry_age_s: float | None = None
    backoff_base_s: float | None = None
    backoff_max_s: float | None = None
    timeout_s: float | None = None
    batch_size: int | None = None
    rate_limit_per_s: float | None = None


class AllowDeny(Section):
    allow: list[str] = []
    deny: list[str] = []


class Filters(Section):
    event_types: AllowDeny = msgspec.field(default_factory=AllowDeny)
    events: AllowDeny = msgspec.field(default_factory=AllowDeny)
    """Track event names (and page/screen names)."""


class SourceConfig(Section):
    name: str
    write_key: str
    enabled: bool = True
    allowed_origins: list[str] = []
    """Browser origins (``https://app.example.com``) allowed to send with this write key; empty:
    any origin, as Segment and RudderStack allow."""


class DestinationConfig(Section):
    name: str
    type: str
    settings: dict[str, Any] = {}
    enabled: bool = True
    filters: Filters = msgspec.field(default_factory=Filters)
    consent: list[str] = []
    """Consent categories an event must carry to be delivered here."""
    delivery: DeliveryOverrides = msgspec.field(default_factory=DeliveryOverrides)


class Connection(Section):
    source: str
    destinations: list[str]


class Config(Section):
    data_dir: str = "data"
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    limits: Limits = msgspec.field(default_factory=Limits)
    admin: AdminConfig = msgspec.field(default_factory=AdminConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    capture: CaptureConfig = msgspec.field(default_factory=CaptureConfig)
    delivery: DeliveryPolicy = msgspec.field(default_factory=DeliveryPolicy)
    sources: list[SourceConfig] = []
    destinations: list[DestinationConfig] = []
    connections: list[Connection] = []
    custify_connections: dict[str, CustifyConnectionConfig] = {}
    """Named Custify API connections (e.g. production, staging), unrelated to ``connections``."""
    syncs: dict[str, SyncConfig] = {}
    """Saved bulk syncs from files to Custify, run by name."""
    triggers: dict[str, TriggerConfig] = {}
    """Custify triggers by name (docs/triggers.md)."""
    workflows: dict[str, WorkflowConfig] = {}
    """Workflows by name: a trigger, conditions and steps (docs/workflows.md)."""

    def data_path(self, name: str) -> Path:
        return Path(self.data_dir) / name

    def sources_of(self, destination: str) -> list[str]:
        """Enabled sources connected to a destination."""
        enabled = {s.name for s in self.sources if s.enabled}
        return [
            c.source
            for c in self.connections
            if destination in c.destinations and c.source in enabled
        ]

    def policy_for(self, destination: DestinationConfig) -> DeliveryPolicy:
        overrides = {
            k: v for k, v in msgspec.structs.asdict(destination.delivery).items() if v is not None
        }
        return msgspec.structs.replace(self.delivery, **overrides)


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_STORE_KEYS = ("data_dir", "store")
"""Where an unset variable stops every command."""
MIN_ADMIN_TOKEN = 16


def substitute_env(
    raw: Any, env: Mapping[str, str], problems: list[str], unset: set[str], filled: set[str]
) -> Any:
    """Replace ``${NAME}`` (or ``${NAME:-default}``) in the parsed document's string values.

    Values, not the YAML text: a YAML error then never quotes a substituted secret, and a
    secret cannot change the document's structure. Paths of substituted values go to
    ``filled`` (their values are never shown in errors); paths naming an unset variable go to
    ``unset`` and a problem each.
    """

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value

        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            unset.add(path)
            problems.append(f"{path}: environment variable {name} is not set (${{{name}}})")
            return ""

        filled.add(path)
        return _ENV.sub(repl, value)

    return walk(raw, "")


def parse(
    text: str,
    env: Mapping[str, str] | None = None,
    *,
    base_dir: Path | None = None,
    needs: Collection[str] | None = None,
) -> Config:
    """Parse and check a configuration document; raise ``ConfigError`` listing every problem.

    ``base_dir``: what relative paths are relative to (the file's directory). ``needs``: the
    top-level keys a command uses (None: all); an unset variable elsewhere is then no problem,
    so a command runs without the secrets it does not use. The store's keys are always needed.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError([_yaml_problem(e)]) from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(["the configuration must be a mapping of keys to values"])
    problems: list[str] = []
    unset: set[str] = set()
    filled: set[str] = set()
    raw = substitute_env(raw, os.environ if env is None else env, problems, unset, filled)
    used = None if needs is None else (*_STORE_KEYS, *needs)
    if used is not None:
        problems = [p for p in problems if p.startswith(used)]
    problems.extend(shape.problems_of(raw, Config, hidden=filled))
    if problems:
        raise ConfigError(problems)
    config: Config = shape.convert(raw, Config)
    if base_dir is not None:
        resolve_paths(config, base_dir)
    checked = check(config)
    if "token" in (raw.get("admin") or {}):
        checked.extend(_check_admin_token(config.admin.token))
    if used is not None:
        skipped = tuple(f"{u}:" for u in unset if not u.startswith(used))
        checked = [p for p in checked if not p.startswith(skipped)]
    if checked:
        raise ConfigError(checked)
    return config


def load(
    path: str | Path, env: Mapping[str, str] | None = None, *, needs: Collection[str] | None = None
) -> Config:
    """Read a configuration file; its relative paths are relative to its directory."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError([f"cannot read the file ({e.strerror})"]) from None
    return parse(text, env, base_dir=Path(path).absolute().parent, needs=needs)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """Where the YAML breaks and why, in one line (the text holds no substituted value)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"not valid YAML{where}: {problem}" + (f" ({context})" if context else "")


def resolve_paths(config: Config, base_dir: Path) -> None:
    """Make every file path in ``config`` absolute against ``base_dir``: the one place that
    decides what a relative path means, so no command depends on the working directory."""

    def absolute(path: str) -> str:
        return path if path == "-" else str(base_dir / Path(path).expanduser())

    config.data_dir = absolute(config.data_dir)
    for sync in config.syncs.values():
        sync.file = absolute(sync.file)
        for name in ("response_log", "error_report", "checkpoint"):
            if (value := getattr(sync, name)) is not None:
                setattr(sync, name, absolute(value))


def _check_admin_token(token: str) -> list[str]:
    if not token.strip():
        return [
            "admin.token: is blank; give a long random token, or remove the key to keep the"
            " admin API off"
        ]
    if len(token.strip()) < MIN_ADMIN_TOKEN:
        return [
            f"admin.token: is too short ({len(token.strip())} characters); use at least "
            f"{MIN_ADMIN_TOKEN} random characters, e.g. from `openssl rand -hex 24`"
        ]
    return []


def check(config: Config) -> list[str]:
    """Cross-key checks the schema cannot express."""
    from csroute.destinations.registry import DESTINATION_TYPES, parse_settings

    problems: list[str] = []
    capture = config.capture
    if capture.ring_size < 1:
        problems.append("capture.ring_size: must be at least 1")
    if not 0.0 < capture.sample_rate <= 1.0:
        problems.append("capture.sample_rate: must be more than 0 and at most 1")
    if capture.max_per_s <= 0:
        problems.append("capture.max_per_s: must be more than 0")
    if capture.body_bytes < 0:
        problems.append("capture.body_bytes: must not be negative")
    source_names: set[str] = set()
    keys: dict[str, str] = {}
    for i, s in enumerate(config.sources):
        where = f"sources[{i}]"
        if s.name in source_names:
            problems.append(f"{where}.name: duplicate source name {s.name!r}")
        source_names.add(s.name)
        if not s.write_key:
            problems.append(f"{where}.write_key: must not be empty")
        elif s.write_key in keys:
            problems.append(
                f"{where}.write_key: the same write key ({mask(s.write_key)}) is already "
                f"used by source {keys[s.write_key]!r}"
            )
        keys.setdefault(s.write_key, s.name)
    dest_names: set[str] = set()
    for i, d in enumerate(config.destinations):
        where = f"destinations[{i}]"
        if d.name in dest_names:
            problems.append(f"{where}.name: duplicate destination name {d.name!r}")
        dest_names.add(d.name)
        if d.type not in DESTINATION_TYPES:
            known = ", ".join(sorted(DESTINATION_TYPES))
            problems.append(f"{where}.type: unknown destination type {d.type!r} (known: {known})")
            continue
        problems.extend(f"{where}.settings.{p}" for p in parse_settings(d.type, d.settings)[1])
    for i, c in enumerate(config.connections):
        where = f"connections[{i}]"
        if c.source not in source_names:
            problems.append(f"{where}.source: no source named {c.source!r}")
        for j, name in enumerate(c.destinations):
            if name not in dest_names:
                problems.append(f"{where}.destinations[{j}]: no destination named {name!r}")
    problems.extend(custify_settings.problems(config.custify_connections))
    for name, sync in config.syncs.items():
        problems.extend(f"syncs.{name}.{p}" for p in _check_sync(sync, config))
    problems.extend(store_settings.problems(config.store))
    sources = {s.name for s in config.sources}
    started = {w.trigger for w in config.workflows.values() if w.trigger is not None}
    problems.extend(
        trigger_settings.problems(config.triggers, sources, config.custify_connections, started)
    )
    problems.extend(
        workflow_settings.problems(
            config.workflows, sources, config.triggers, config.custify_connections
        )
    )
    for name, value in (
        ("delivery.concurrency", config.delivery.concurrency),
        ("delivery.page_size", config.delivery.page_size),
        ("delivery.max_attempts", config.delivery.max_attempts),
    ):
        if value < 1:
            problems.append(f"{name}: must be at least 1 (got {value})")
    return problems


def _check_sync(sync: SyncConfig, config: Config) -> list[str]:
    from csroute.sync.settings import problems_of

    problems = problems_of(sync)
    if sync.connection is not None and sync.connection not in config.custify_connections:
        problems.append(f"connection: no custify_connections entry named {sync.connection!r}")
    return problems
