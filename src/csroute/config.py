"""The configuration file: sources, destinations, connections and delivery policy.

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
from csroute.files import FileMode
from csroute.secrets import mask
from csroute.triggers.settings import TriggerConfig
from csroute.triggers.settings import problems as trigger_problems
from csroute.workflows.settings import WorkflowConfig
from csroute.workflows.settings import problems as workflow_problems


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists each one with its key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


class Struct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for config sections: unknown keys are errors (a typo must not pass silently)."""


class ServerConfig(Struct):
    host: str = "127.0.0.1"
    port: int = 8080


class StoreConfig(Struct):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "events.db"
    """SQLite file, relative to ``data_dir``."""
    synchronous: Literal["full", "normal"] = "full"
    """SQLite durability: ``full`` survives power loss, ``normal`` survives process crashes."""
    url: str = ""
    """PostgreSQL connection URL (postgres backend); put the password in ``${ENV}``."""
    retention_s: float = 0.0
    """Keep events at least this long after they were received, delivered or not (for replay
    and audits); 0 deletes them as soon as every destination is done with them."""
    prune_interval_s: float = 60.0
    """How often the router deletes events every destination is done with; 0 keeps them all."""
    partitions: int | None = None
    """How many shares of each destination's users worker processes split between them
    (postgres backend; a power of two up to 64; default 8). SQLite always uses 1."""
    lease_ttl_s: float = 10.0
    """How long a worker's claim on partitions lasts without renewal: after a worker dies, the
    others take its partitions over within this time (postgres backend)."""
    pool_size: int = 8
    """Database connections per process for reads and delivery state (postgres backend)."""
    file_mode: FileMode = "private"
    """Who may read the files csroute writes (database, sync logs and checkpoints):
    ``private`` 0600 files in 0700 directories, ``group`` 0640 in 0750."""

    def partition_count(self) -> int:
        if self.backend == "sqlite":
            return 1
        return 8 if self.partitions is None else self.partitions


class Limits(Struct):
    max_event_bytes: int = 32 * 1024
    max_request_bytes: int = 500 * 1024
    max_batch_events: int = 2500
    max_depth: int = 32
    """Deepest JSON nesting accepted in an event; deeper bodies are rejected, not walked."""
    body_timeout_s: float = 30.0
    """A request body not complete this long after its headers is answered 408 and its
    connection closed (a ``Content-Length`` longer than what is sent would hold it forever)."""


class AdminConfig(Struct):
    token: str = ""
    """Bearer token for the admin API, at least 16 characters; the API is off without it."""


class CaptureConfig(Struct):
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


class LoggingConfig(Struct):
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


class DeliveryPolicy(Struct):
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


class DeliveryOverrides(Struct):
    concurrency: int | None = None
    page_size: int | None = None
    max_attempts: int | None = None
    max_retry_age_s: float | None = None
    backoff_base_s: float | None = None
    backoff_max_s: float | None = None
    timeout_s: float | None = None
    batch_size: int | None = None
    rate_limit_per_s: float | None = None


class AllowDeny(Struct):
    allow: list[str] = []
    deny: list[str] = []


class Filters(Struct):
    event_types: AllowDeny = msgspec.field(default_factory=AllowDeny)
    events: AllowDeny = msgspec.field(default_factory=AllowDeny)
    """Track event names (and page/screen names)."""


class SourceConfig(Struct):
    name: str
    write_key: str
    enabled: bool = True
    allowed_origins: list[str] = []
    """Browser origins (``https://app.example.com``) allowed to send with this write key; empty:
    any origin, as Segment and RudderStack allow."""


class DestinationConfig(Struct):
    name: str
    type: str
    settings: dict[str, Any] = {}
    enabled: bool = True
    filters: Filters = msgspec.field(default_factory=Filters)
    consent: list[str] = []
    """Consent categories an event must carry to be delivered here."""
    delivery: DeliveryOverrides = msgspec.field(default_factory=DeliveryOverrides)


class Connection(Struct):
    source: str
    destinations: list[str]


class CustifyConnectionConfig(Struct):
    """A named Custify connection for ``csroute custify`` and the Python client (issue 5)."""

    api_key: str
    base_url: str = "https://api.custify.com"
    """Accounts on regional clusters have their own API URL (shown in Custify's settings)."""
    rate_limit_requests: float = 100
    rate_limit_window_s: float = 10
    timeout_s: float = 30.0
    max_attempts: int = 6
    """Tries per call when Custify answers 429 or 5xx (each waits as ``Retry-After`` says)."""
    time_track_path: Literal["/time-track", "/time_track"] = "/time-track"
    """Custify's spec and its samples disagree on this path (custify-api.md 5.13)."""


class ManualRequestConfig(Struct):
    """A request built by hand for an endpoint without a template (connectors.md 1.2)."""

    method: str = "POST"
    path: str | None = None
    """Relative to the connection's base URL, e.g. ``/people``; or give ``url``."""
    url: str | None = None
    headers: dict[str, str] = {}
    """Extra headers; ``Authorization`` comes from the connection and is refused here."""
    batch_property: str | None = None
    """Batch records under this property (e.g. ``batch``); None sends one record per call."""
    other: dict[str, Any] = {}
    """Further top-level properties of a batched request, e.g. ``{"synchronous": false}``."""


class SyncConfig(Struct):
    """A saved bulk sync (``csroute sync run NAME``, issue 6); see docs/sync.md."""

    file: str
    template: str
    """A template name (``Upsert Person``, ``upsert-person``), or ``manual``."""
    connection: str | None = None
    format: Literal["csv", "jsonl", "json", "parquet"] | None = None
    map: dict[str, str] = {}
    exclude: list[str] = []
    batch: bool = False
    """Send through ``POST /batch`` (templates with a batch job type)."""
    batch_size: int = 100
    job_type: Literal["people", "company", "event", "custom-data"] | None = None
    """Send Batch Request: the job type of every record (default ``people``)."""
    manual: ManualRequestConfig | None = None
    response_log: str | None = None
    error_report: str | None = None
    checkpoint: str | None = None
    webhook: str | None = None
    active: bool = True


class Config(Struct):
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
    for name, conn in config.custify_connections.items():
        where = f"custify_connections.{name}"
        if not conn.api_key.strip():
            problems.append(f"{where}.api_key: must not be empty")
        if not conn.base_url.startswith(("http://", "https://")):
            problems.append(f"{where}.base_url: must start with https:// (got {conn.base_url!r})")
        if conn.rate_limit_requests <= 0 or conn.rate_limit_window_s <= 0:
            problems.append(f"{where}.rate_limit_requests, rate_limit_window_s: must be positive")
        if conn.max_attempts < 1 or conn.timeout_s <= 0:
            problems.append(f"{where}.max_attempts, timeout_s: must be positive")
    for name, sync in config.syncs.items():
        problems.extend(f"syncs.{name}.{p}" for p in _check_sync(sync, config))
    problems.extend(_check_store(config.store))
    problems.extend(trigger_problems(config.triggers, config))
    problems.extend(workflow_problems(config.workflows, config))
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


def _check_store(store: StoreConfig) -> list[str]:
    from csroute.store.base import PARTS

    problems: list[str] = []
    if store.backend == "postgres" and not store.url:
        problems.append("store.url: the postgres backend needs a connection URL")
    if store.partitions is not None:
        n = store.partitions
        if store.backend == "sqlite" and n != 1:
            problems.append(
                "store.partitions: SQLite serves one worker process; splitting a destination"
                " between several needs the postgres backend"
            )
        elif n < 1 or n > PARTS or n & (n - 1):
            problems.append(f"store.partitions: must be a power of two from 1 to {PARTS} (got {n})")
    if store.lease_ttl_s <= 0:
        problems.append(f"store.lease_ttl_s: must be positive (got {store.lease_ttl_s})")
    if store.pool_size < 1:
        problems.append(f"store.pool_size: must be at least 1 (got {store.pool_size})")
    return problems
