"""Storage adapters: the in-memory store, the SQL store (SQLite, PostgreSQL), migrations.

``SqlEventStore`` and ``upgrade_database`` are imported on first use (PEP 562): they pull in
SQLAlchemy and Alembic, which the in-memory store and ``phasedcare --help`` do not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phasedcare.store.memory import InMemoryEventStore

if TYPE_CHECKING:
    from phasedcare.store.migrate import upgrade_database
    from phasedcare.store.sql import SqlEventStore

__all__ = ["InMemoryEventStore", "SqlEventStore", "upgrade_database"]


def __getattr__(name: str) -> Any:
    """Import the SQL store or the migrations when they are first asked for."""
    if name == "SqlEventStore":
        from phasedcare.store.sql import SqlEventStore  # noqa: PLC0415 - SQLAlchemy on demand

        return SqlEventStore
    if name == "upgrade_database":
        from phasedcare.store.migrate import upgrade_database  # noqa: PLC0415 - Alembic on demand

        return upgrade_database
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, including those imported on demand."""
    return sorted(__all__)
