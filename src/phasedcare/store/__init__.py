"""Storage adapters: the in-memory store, the SQL store (SQLite, PostgreSQL), migrations.

Import the SQL store and the migrations from their modules (``phasedcare.store.sql``,
``phasedcare.store.migrate``): they pull in SQLAlchemy and Alembic, which the in-memory
store and the command line's help do not need.
"""

from phasedcare.store.memory import InMemoryEventStore

__all__ = ["InMemoryEventStore"]
