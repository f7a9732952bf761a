"""Alembic environment: migrate the database named in the configuration."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from phasedcare.store.tables import metadata


def run_migrations_online() -> None:
    """Run the migrations on a connection to the configured URL."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None  # noqa: S101 - alembic_config always sets it
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
