"""Workflows: a trigger record (or a pipeline ``track`` event), conditions, and ordered steps
(Custify actions, webhook calls, pipeline events), run durably. See docs/workflows.md.

``settings`` is the configuration section and its checks, ``expressions`` the one syntax that
maps records and earlier outputs into step inputs, ``steps`` what a step does, ``runner`` the
runs (created from the triggers runner's hand-off, recorded step by step in the store).
This package imports the triggers, the Custify client and the store; nothing below it imports it.
"""
