"""The web console under ``/console``: server-rendered pages over the admin API's operations."""
