"""Typed errors of the Custify client.

Errors carry the method and path, never the API key; Custify's own words come from
``csroute.custify.api.error_message``.
"""

from __future__ import annotations

from csroute.custify.api import error_message


class CustifyError(Exception):
    """Any failed Custify call; ``status`` is None when no HTTP answer was received."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AuthenticationError(CustifyError):
    """401: the key is wrong, revoked, or belongs to another cluster's base URL."""


class PermissionDenied(CustifyError):
    """403: the key may not do this (read-only key, or the plan lacks API access)."""


class NotFound(CustifyError):
    """404, or the empty list Custify answers on several reads instead of a 404."""


class Conflict(CustifyError):
    """409, or a Create action whose record already exists."""


class ValidationError(CustifyError):
    """400/422 from Custify, or a request refused locally before sending; ``field`` names the
    offending field when it is known."""

    def __init__(self, message: str, *, status: int | None = None, field: str | None = None):
        super().__init__(message, status=status)
        self.field = field


class RateLimited(CustifyError):
    """429 after every attempt; ``retry_after_s`` is Custify's wait (None when not given)."""

    def __init__(self, message: str, *, retry_after_s: float | None) -> None:
        super().__init__(message, status=429)
        self.retry_after_s = retry_after_s


class ServerError(CustifyError):
    """5xx after every attempt."""


class TransportError(CustifyError):
    """No HTTP answer: connection refused or reset, or a timeout."""


def error_for(
    status: int, body: bytes, where: str, retry_after_s: float | None = None
) -> CustifyError:
    """The typed error for a failed answer to ``where`` (``METHOD /path``)."""
    message = error_message(body) or "no reason given"
    text = f"{where}: HTTP {status}: {message}"
    if status == 401:
        return AuthenticationError(
            f"{text} (check the API key, and the base URL if the account is on another "
            "Custify cluster)",
            status=status,
        )
    if status == 403:
        return PermissionDenied(
            f"{text} (check the Custify plan and the API key's permissions)", status=status
        )
    if status == 404:
        return NotFound(text, status=status)
    if status == 409:
        return Conflict(text, status=status)
    if status in (400, 422):
        return ValidationError(text, status=status)
    if status == 429:
        return RateLimited(text, retry_after_s=retry_after_s)
    if status >= 500:
        return ServerError(text, status=status)
    return CustifyError(text, status=status)
