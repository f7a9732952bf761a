"""Storage adapters: the in-memory store and the SQL store (SQLite, PostgreSQL), migrations."""

from phasedcare.store.memory import InMemoryEventStore
from phasedcare.store.migrate import upgrade_database
from phasedcare.store.sql import SqlEventStore

__all__ = ["InMemoryEventStore", "SqlEventStore", "upgrade_database"]
