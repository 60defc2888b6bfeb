"""The delivery engine: per destination, read, filter, transform, deliver, record."""
