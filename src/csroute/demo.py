"""The demo: what ``csroute serve`` runs when no configuration file is given.

Everything is local: SQLite under ``demo_dir()`` (``$CSROUTE_DEMO_DIR``, else
``$XDG_DATA_HOME/csroute/demo``, else ``~/.local/share/csroute/demo``: one place, whatever the
working directory, so ``csroute status`` finds what ``csroute serve`` stored), one source
with a fixed write key, and Custify and Kustomer destinations that deliver to sandboxes
started in the same process. It is meant for a first look (``csroute send`` then the
sandboxes' ``/__sandbox/state``), not production.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from csroute import config

DEMO_WRITE_KEY = "demo-write-key"
CUSTIFY_PORT = 8091
KUSTOMER_PORT = 8092

DEMO_YAML = f"""
server: {{host: 127.0.0.1, port: 8080}}
sources:
  - {{name: demo, write_key: {DEMO_WRITE_KEY}}}
destinations:
  - name: custify
    type: custify
    settings:
      api_key: sandbox-key
      base_url: http://127.0.0.1:{CUSTIFY_PORT}
  - name: kustomer
    type: kustomer
    settings:
      org_name: sandbox
      api_key: sandbox-key
      base_url: http://127.0.0.1:{KUSTOMER_PORT}
    filters:  # Kustomer timelines take identify, track, page and screen, not group or alias
      event_types: {{allow: [identify, track, page, screen]}}
connections:
  - {{source: demo, destinations: [custify, kustomer]}}
"""


def demo_dir() -> Path:
    """Where the demo keeps its store (docs/cli.md)."""
    if given := os.environ.get("CSROUTE_DEMO_DIR"):
        return Path(given).expanduser().absolute()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home).absolute() / "csroute" / "demo"


def demo_config() -> config.Config:
    cfg = config.parse(DEMO_YAML, env={})
    cfg.data_dir = str(demo_dir())
    return cfg


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def destination_url(destination: config.DestinationConfig) -> str | None:
    """Where a destination delivers: its ``base_url`` (Custify, Kustomer) or ``url`` (webhook)."""
    url = destination.settings.get("base_url") or destination.settings.get("url")
    return url if isinstance(url, str) else None


def sandbox_ports(cfg: config.Config) -> dict[int, list[config.DestinationConfig]]:
    """Custify and Kustomer destinations that deliver to this machine, by port: where
    ``serve --with-sandboxes`` (and the demo) runs a sandbox of the first one's type."""
    ports: dict[int, list[config.DestinationConfig]] = {}
    for d in cfg.destinations:
        url = urlsplit(destination_url(d) or "")
        if d.enabled and d.type in ("custify", "kustomer") and url.hostname in LOOPBACK:
            ports.setdefault(url.port or 80, []).append(d)
    return ports


def demo_sandboxes(cfg: config.Config) -> list[tuple[Any, int]]:
    """A sandbox for each port of ``sandbox_ports``; it accepts ``sandbox-key`` and the API
    keys of the destinations that deliver to it, so a trial configuration runs unchanged."""
    from csroute.custify.sandbox.app import create_app as custify_app
    from csroute.kustomer.sandbox.app import ALL_ROLES
    from csroute.kustomer.sandbox.app import create_app as kustomer_app

    apps = []
    for port, served in sandbox_ports(cfg).items():
        d = served[0]
        keys = {"sandbox-key"} | {str(o.settings.get("api_key", "")) for o in served}
        if d.type == "custify":
            apps.append((custify_app(api_keys=sorted(keys)), port))
        else:
            org = str(d.settings.get("org_name", "sandbox"))
            apps.append((kustomer_app(org_name=org, api_keys=dict.fromkeys(keys, ALL_ROLES)), port))
    return apps
