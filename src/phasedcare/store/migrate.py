"""Schema migrations with Alembic, run from code: no alembic.ini is needed at run time."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError

from phasedcare.errors import StoreError
from phasedcare.store.sqlite_files import private_sqlite_file

__all__ = ["alembic_config", "upgrade_database"]


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` using the migrations shipped in the package."""
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("phasedcare.store") / "migrations")
    )
    # ?synchronous= is the store's own SQLite option (see store.sql); the driver knows none.
    plain = make_url(url).difference_update_query(["synchronous"])
    config.set_main_option(
        "sqlalchemy.url", plain.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def upgrade_database(url: str) -> None:
    """Create or migrate the schema at ``url`` to the newest revision (idempotent).

    A SQLite file is created 0600 first (:func:`private_sqlite_file`), so that neither it nor
    the ``-wal`` and ``-shm`` files SQLite makes beside it are ever readable by others.
    """
    private_sqlite_file(url)
    try:
        command.upgrade(alembic_config(url), "head")
    except DBAPIError as exc:
        raise StoreError("migrating the database failed", detail=str(exc.orig)) from None
