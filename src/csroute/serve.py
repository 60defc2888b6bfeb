"""Running csroute: the gateway and the router in one process, or either role alone.

Both roles share one event loop: ingestion is I/O-bound (the store's writer does the commits),
and the router yields between requests. ``--role`` splits them across processes when one
process is not enough: ``gateway`` only ingests, ``worker`` only delivers. With PostgreSQL any
number of each may run on any machines; with SQLite, one worker per database file.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from typing import Final, Literal

import uvicorn
from starlette.types import ASGIApp

from csroute import files, logs
from csroute.capture.live import Capture
from csroute.config import Config
from csroute.gateway.app import GatewayApp
from csroute.gateway.metrics import PrometheusGatewayMetrics
from csroute.ops.app import create_ops_app
from csroute.router.redact import config_secrets
from csroute.router.router import Router
from csroute.secrets import mask
from csroute.store.open import open_store, shown_url
from csroute.triggers.push import PushApp
from csroute.triggers.runner import Triggers
from csroute.workflows.runner import Workflows

Role = Literal["all", "gateway", "worker"]
SWITCH_INTERVAL_S: Final = 0.0005
log = logging.getLogger("csroute")


class CannotListen(Exception):
    """A port to serve on cannot be bound (in use, or not allowed); nothing was started."""


def banner(config: Config, role: Role) -> list[str]:
    """What is configured (keys masked): ``csroute serve`` logs it once it listens, and
    ``csroute config check`` prints it without starting anything."""
    lines = []
    if role in ("all", "gateway"):
        lines.append(f"gateway on http://{config.server.host}:{config.server.port}")
    for s in config.sources:
        state = "enabled" if s.enabled else "disabled"
        lines.append(f"source {s.name!r} ({state}) write key {mask(s.write_key)}")
    if role in ("all", "worker"):
        for d in config.destinations:
            if d.enabled:
                fed = ", ".join(config.sources_of(d.name)) or "no sources connected"
                lines.append(f"destination {d.name!r} ({d.type}) from {fed}")
        for name, t in config.triggers.items():
            if t.enabled:
                lines.append(f"trigger {name!r} ({t.type}) every {t.interval():g} s")
        for name, w in config.workflows.items():
            if w.enabled:
                start = w.trigger or (w.event and f"{w.event.track!r} from {w.event.source}")
                lines.append(f"workflow {name!r} on {start}, {len(w.steps)} step(s)")
    store = config.store
    if store.backend == "sqlite":
        lines.append(f"store: sqlite ({config.data_path(store.path)})")
    else:
        lines.append(
            f"store: postgres ({shown_url(store.url)}), {store.partition_count()} partitions"
            " per destination"
        )
    return lines


class _Server(uvicorn.Server):
    """uvicorn's server minus its signal handling, which ``serve`` owns.

    On SIGTERM uvicorn stops serving, then restores the default handler and raises the signal
    again, killing the process before the router finishes its rounds in flight and the store
    closes. ``serve`` handles the signals itself and exits normally instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """The listening socket's address, bound before anything says it listens."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        hint = " (another process uses it; choose one with --port)" if port else ""
        raise CannotListen(f"cannot listen on http://{host}:{port}: {e.strerror}{hint}") from None
    sock.set_inheritable(True)
    return sock


def _server(app: ASGIApp, host: str, port: int) -> uvicorn.Server:
    return _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            loop="none",
            http="httptools",
            lifespan="off",
            access_log=False,
            log_config=None,
        )
    )


async def serve(
    config: Config,
    role: Role = "all",
    companions: Sequence[tuple[ASGIApp, int]] = (),
) -> None:
    """Run until interrupted. ``companions`` are extra apps served on their own ports in the
    same process (the demo's sandboxes). Raise ``CannotListen`` before starting anything when
    a port is taken."""
    logs.setup(config.logging.format, config.logging.level, config_secrets(config))
    files.use(config.store.file_mode)
    host = config.server.host
    sockets: list[socket.socket] = []
    try:
        for port in (config.server.port, *(port for _, port in companions)):
            sockets.append(bind(host, port))
    except CannotListen:
        for sock in sockets:
            sock.close()
        raise
    store = await open_store(config.store, config.data_dir)
    capture = Capture.for_config(config)
    router = Router(config, store, capture=capture) if role in ("all", "worker") else None
    app: ASGIApp = create_ops_app(config, store, router, capture)
    worker = role in ("all", "worker")
    workflows = (
        Workflows(config, store, secrets=config_secrets(config))
        if worker and config.workflows
        else None
    )
    hand_off = workflows.accept if workflows is not None else None
    triggers = Triggers(config, store, on_record=hand_off) if worker else None
    if triggers is not None:
        app = PushApp(
            triggers, app, config.limits.body_timeout_s
        )  # Custify's webhooks: /triggers/<name>/webhook
    if role in ("all", "gateway"):
        metrics = PrometheusGatewayMetrics()
        app = GatewayApp(store, config.sources, config.limits, metrics, app, capture)
    server = _server(app, config.server.host, config.server.port)
    extra = [_server(a, config.server.host, port) for a, port in companions]
    for line in banner(config, role):
        log.info(line)
    for what, sock in zip(("csroute", *("sandbox" for _ in companions)), sockets, strict=True):
        # Bound above, served from the next await on: only now is "listening" true.
        log.info(f"{what} listening on http://{host}:{sock.getsockname()[1]}")
    if router is not None:
        router.start()
    if triggers is not None:
        triggers.start()
    if workflows is not None:
        workflows.start()
    # Everything alive now (modules, config, apps) lives as long as the process: keep it out of
    # the collector's full passes, which otherwise walk it again and again under load (+5%
    # single-event ingestion, docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    # Under load the event loop holds the GIL nearly all the time, and a thread that needs it
    # back (a SQLite reader after its query, for the router) waits up to the switch interval:
    # 5 ms by default. 0.5 ms bounds the wait.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _stop, [server, *extra])
    try:
        # The main server handles signals; companions stop with it.
        tasks = [
            asyncio.create_task(s.serve([sock])) for s, sock in zip(extra, sockets[1:], strict=True)
        ]
        await server.serve([sockets[0]])
        for s in extra:
            s.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if triggers is not None:
            await triggers.stop()
        if workflows is not None:
            await workflows.stop()
        if router is not None:
            await router.stop()
        await store.close()


def _stop(servers: list[uvicorn.Server]) -> None:
    log.info("stopping: finishing deliveries in flight")
    for server in servers:
        server.should_exit = True


def run(config: Config, role: Role = "all", companions: Sequence[tuple[ASGIApp, int]] = ()) -> None:
    import uvloop

    uvloop.run(serve(config, role, companions))
