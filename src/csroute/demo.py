"""The demo configuration: what ``csroute serve`` runs when no configuration file is given.

Everything is local: SQLite under ``./data``, one source with a fixed write key, and
destinations that deliver to the Custify and Kustomer sandboxes, which ``serve`` starts
alongside the pipeline. It is meant for a first look, not for production.
"""

from __future__ import annotations

from csroute import config

DEMO_WRITE_KEY = "demo-write-key"

DEMO_YAML = f"""
data_dir: data
server: {{host: 127.0.0.1, port: 8080}}
sources:
  - {{name: demo, write_key: {DEMO_WRITE_KEY}}}
destinations: []
connections: []
"""


def demo_config() -> config.Config:
    return config.parse(DEMO_YAML, env={})
