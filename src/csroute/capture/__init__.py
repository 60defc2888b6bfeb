"""Live capture: what happened to recent events, for ``/admin/stream`` and ``csroute tail``.

The gateway and the router report to one ``Capture`` (``live``), which turns what they report
into masked, JSON-ready records (``records``) only while somebody watches: unwatched, capture
costs the gateway one attribute check per request and the router one method call per outcome.
"""
