"""``type: kustomer``: every event identifies the customer and lands on their Kustomer timeline.

Datafly Signal's integration, server to server: one ``POST /v1/tracking/identityEvent`` per
event, identity from the user's traits (carried over from earlier identify calls), event name
from an editable preset and ``meta`` obeying Kustomer's key-suffix rules.
"""

from csroute.destinations.base import DestinationType
from csroute.destinations.kustomer.delivery import delivery
from csroute.destinations.kustomer.settings import Settings, check
from csroute.destinations.kustomer.transform import transform

TYPE = DestinationType(
    name="kustomer",
    settings=Settings,
    transform=transform,
    delivery=delivery,
    remembers_traits=True,
    secret_settings=frozenset({"api_key"}),
    check=check,
    no_deletion=(
        "Kustomer's tracking API cannot delete customers; delete the customer in Kustomer"
        " (Customers > Delete, or DELETE /v1/customers/{id} with a key that may delete"
        " customers). Their queued events will not be sent."
    ),
)

__all__ = ["TYPE"]
