"""Custify: the API sandbox (and, later, the API client)."""
