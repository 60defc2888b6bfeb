"""The configuration the browser SDKs fetch before they send anything, built from a source.

Both SDKs load their settings from their vendor's CDN by default; served here, a web app
needs nothing but csroute. Destinations are always empty (csroute delivers server-side, so
the SDKs load no device-mode integration code) and the SDKs' own metrics and error
reporting are off.
"""

from __future__ import annotations

from typing import Any

import msgspec

from csroute.config import SourceConfig

_encode = msgspec.json.Encoder().encode


def rudderstack_source_config(source: SourceConfig) -> bytes:
    """What ``@rudderstack/analytics-js`` v3 reads from ``{configUrl}/sourceConfig/``."""
    off = {"enabled": False}
    return _encode(
        {
            "isHosted": False,
            "source": {
                "id": source.name,
                "name": source.name,
                "writeKey": source.write_key,
                "workspaceId": "csroute",
                "enabled": True,
                "config": {"statsCollection": {"errors": off, "metrics": off}},
                "destinations": [],
            },
        }
    )


def segment_settings(source: SourceConfig, scheme: str, host: str) -> bytes:
    """What ``@segment/analytics-next`` reads from ``{cdnURL}/v1/projects/{writeKey}/settings``.

    The events go back to the host that served the settings (``/v1/i``, ``/v1/t`` ...), over
    the same scheme; the page's load options can still override ``apiHost`` and ``protocol``.
    """
    segment_io: dict[str, Any] = {
        "apiKey": source.write_key,
        "apiHost": f"{host}/v1",
        "protocol": scheme,
        "unbundledIntegrations": [],
        "addBundledMetadata": False,
    }
    return _encode(
        {
            "integrations": {"Segment.io": segment_io},
            "plan": {},
            "edgeFunction": {},
            "analyticsNextEnabled": True,
            "middlewareSettings": {},
            "enabledMiddleware": {},
            "metrics": {"sampleRate": 0},
            "legacyVideoPluginsEnabled": False,
            "remotePlugins": [],
        }
    )
