"""Custify triggers: react to what changes in Custify.

Each trigger polls one Custify listing newest first back to a durable cursor and hands new
records on oldest first (``poller``); notes and tasks can also be pushed by Custify's outgoing
webhooks (``push``). ``catalog`` declares the triggers, ``settings`` their configuration,
``outputs`` where records go, ``runner`` runs them in ``csroute serve``. See docs/triggers.md.

This package imports the Custify client and the store; nothing below it imports it.
"""
