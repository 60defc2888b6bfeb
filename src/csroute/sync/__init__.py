"""Bulk record sync: files (CSV, JSON Lines, JSON arrays, Parquet) into Custify through endpoint
templates or a manual request configuration. See docs/sync.md."""
