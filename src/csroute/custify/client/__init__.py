"""The Custify API client: every resource, typed errors, pagination, and the rate limiter the
event pipeline uses for the same API key. See docs/custify-client.md.

``AsyncCustify`` (aiohttp) and ``Custify`` (the same, blocking) take an API key and base URL or
a ``Connection``; ``resolve`` picks a named connection from the configuration or environment.
"""

from csroute.custify.client.client import AsyncCustify
from csroute.custify.client.connection import Connection, ConnectionNotFound, resolve
from csroute.custify.client.errors import (
    AuthenticationError,
    Conflict,
    CustifyError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
)
from csroute.custify.client.sync import Custify

__all__ = [
    "AsyncCustify",
    "AuthenticationError",
    "Conflict",
    "Connection",
    "ConnectionNotFound",
    "Custify",
    "CustifyError",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "TransportError",
    "ValidationError",
    "resolve",
]
