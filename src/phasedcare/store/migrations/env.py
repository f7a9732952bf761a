"""Alembic environment: migrate the database named in the configuration."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from phasedcare.store.tables import metadata


def run_migrations_online() -> None:
    """Run the migrations on a connection to the configured URL.

    A new SQLite file is switched to WAL here, before any table exists, so that the first
    store to open it does not need the exclusive lock that changing the journal mode takes.
    """
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None  # noqa: S101 - alembic_config always sets it
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
                connection.commit()  # end the autobegun transaction: Alembic begins its own
            context.configure(connection=connection, target_metadata=metadata)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations_online()
