"""The event log and delivery state, behind one interface with SQLite and PostgreSQL backends."""
