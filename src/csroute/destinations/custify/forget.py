"""User deletion ("forget me"): the Custify requests that delete a person, and their outcome.

Same rules as RudderStack's Custify user deletion, with its messages: ``DELETE
/people?user_id=``, where Custify's 404 means the person is already gone. Unlike RudderStack
(Q15), the user id is URL-encoded (it travels in ``params``), and every user id is checked
before anything is sent.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import msgspec

from csroute.destinations.base import Request
from csroute.destinations.custify.endpoints import endpoints
from csroute.destinations.custify.settings import Settings


def forget_requests(user_id: str, settings: Settings) -> list[Request]:
    """The requests that delete ``user_id`` in Custify. Raises ValueError (RudderStack's
    messages) when the user id or the API key is missing."""
    if user_id is None or user_id == "":
        raise ValueError("User id for deletion not present")
    if not settings.api_key:
        raise ValueError("api key for deletion not present")
    headers = MappingProxyType({"Authorization": f"Bearer {settings.api_key}"})
    params = MappingProxyType({"user_id": str(user_id)})
    return [Request("DELETE", endpoints(settings).people, headers, params)]


def forget_error(status: int, body: bytes) -> str | None:
    """None when the deletion is done (2xx, or 404: nothing to delete); otherwise the error,
    as RudderStack reports it: Custify's JSON body, compact."""
    if 200 <= status < 300 or status == 404:
        return None
    if not body.strip():
        return "Error while deleting user"
    try:
        data: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body.decode(errors="replace")
    return msgspec.json.encode(data).decode()
