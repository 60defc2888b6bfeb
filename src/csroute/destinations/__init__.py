"""Destinations: declarative settings, pure transforms, and the API facts the router needs."""
