"""The contract suite over SQLite, plus the checks only a file can show."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from credential_contract import SqlCredentialStoreContract
from notification_contract import SqlNotificationStoreContract
from store_contract import SqlEventStoreContract

from phasedcare.errors import StoreError
from phasedcare.store import SqlEventStore
from phasedcare.store.migrate import alembic_config
from phasedcare.store.tables import SCHEMA_REVISION


class TestSqliteEventStore(
    SqlEventStoreContract, SqlNotificationStoreContract, SqlCredentialStoreContract
):
    """SqlEventStore over a SQLite file keeps the contract, notifications and credentials too."""

    @pytest.fixture
    def database_url(self, sqlite_url: str) -> str:
        """A fresh, migrated SQLite file in the test's temporary folder."""
        return sqlite_url

    @pytest.fixture
    def blank_url(self, blank_sqlite_url: str) -> str:
        """An existing SQLite file without the schema."""
        return blank_sqlite_url


def test_a_missing_file_asks_for_init_and_is_not_created(tmp_path: Path) -> None:
    """Opening a SQLite file that does not exist raises StoreError and leaves no file behind."""
    path = tmp_path / "none.db"
    with pytest.raises(StoreError, match="not initialised: run phasedcare init"):
        SqlEventStore(f"sqlite:///{path}")
    assert not path.exists()


def test_the_file_is_durable_and_waits_for_the_write_lock(sqlite_url: str) -> None:
    """Connections run WAL, synchronous=FULL, a busy timeout and foreign keys."""
    store = SqlEventStore(sqlite_url)
    engine = store._engine  # the pragmas live on the store's own connections
    with engine.connect() as conn:
        pragmas = [
            conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        ]
    store.close()
    assert pragmas == ["wal", 2, 30_000, 1]


def test_a_new_database_file_is_in_wal_mode_from_the_migration_on(sqlite_url: str) -> None:
    """upgrade_database leaves the file in WAL mode before any store opens it."""
    path = sqlite_url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path)
    try:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        connection.close()
    assert mode == "wal"


def test_the_schema_revision_is_the_newest_migration() -> None:
    """tables.SCHEMA_REVISION names Alembic's head, so the store's revision check stays honest."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head == SCHEMA_REVISION
