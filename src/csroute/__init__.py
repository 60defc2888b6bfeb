"""csroute: a customer-event pipeline for customer-success platforms."""

__version__ = "0.1.0"
