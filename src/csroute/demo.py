"""The demo: what ``csroute serve`` runs when no configuration file is given.

Everything is local: SQLite under ``./data``, one source with a fixed write key, and Custify
and Kustomer destinations that deliver to sandboxes started in the same process. It is meant
for a first look (``csroute send`` then the sandboxes' ``/__sandbox/state``), not production.
"""

from __future__ import annotations

from typing import Any

from csroute import config

DEMO_WRITE_KEY = "demo-write-key"
CUSTIFY_PORT = 8091
KUSTOMER_PORT = 8092

DEMO_YAML = f"""
data_dir: data
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


def demo_config() -> config.Config:
    return config.parse(DEMO_YAML, env={})


def demo_sandboxes() -> list[tuple[Any, int]]:
    """The sandbox apps the demo delivers to, with their ports."""
    from csroute.custify.sandbox.app import create_app as custify_app
    from csroute.kustomer.sandbox.app import create_app as kustomer_app

    return [(custify_app(), CUSTIFY_PORT), (kustomer_app(), KUSTOMER_PORT)]
