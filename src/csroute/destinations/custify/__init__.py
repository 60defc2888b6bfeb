"""``type: custify``: identify, track and group events to Custify (RudderStack-compatible).

Mapping rules, settings and every deliberate difference from RudderStack's Custify destination
are in docs/destinations/custify.md.
"""

from csroute.custify.api import rate_limit_key
from csroute.destinations.base import DestinationType, UserDeletion
from csroute.destinations.custify.delivery import delivery, explain
from csroute.destinations.custify.forget import forget_error, forget_requests
from csroute.destinations.custify.settings import Settings, check
from csroute.destinations.custify.transform import transform

TYPE = DestinationType(
    name="custify",
    settings=Settings,
    transform=transform,
    delivery=delivery,
    remembers_traits=True,
    secret_settings=frozenset({"api_key"}),
    check=check,
    deletion=UserDeletion(forget_requests, forget_error),
)

__all__ = [
    "TYPE",
    "Settings",
    "check",
    "delivery",
    "explain",
    "forget_error",
    "forget_requests",
    "rate_limit_key",
    "transform",
]
