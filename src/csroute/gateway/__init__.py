"""HTTP ingestion: Segment/RudderStack-compatible endpoints that append to the store."""
