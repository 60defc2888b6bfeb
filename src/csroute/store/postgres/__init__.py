"""The PostgreSQL backend of the store: several csroute processes, on several machines."""

from csroute.store.postgres.store import PostgresStore, migrate

__all__ = ["PostgresStore", "migrate"]
