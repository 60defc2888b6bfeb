"""The Segment/RudderStack event model: what an event is, how it is validated, its limits."""
