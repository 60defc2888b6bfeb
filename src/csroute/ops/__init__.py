"""Operating csroute over HTTP: health, readiness, metrics and the admin API."""
