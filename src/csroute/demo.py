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


def demo_sandboxes() -> list[tuple[Any, int]]:
    """The sandbox apps the demo delivers to, with their ports."""
    from csroute.custify.sandbox.app import create_app as custify_app
    from csroute.kustomer.sandbox.app import create_app as kustomer_app

    return [(custify_app(), CUSTIFY_PORT), (kustomer_app(), KUSTOMER_PORT)]
