"""The contract suite over SQLite and PostgreSQL, with racing processes and migration checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from racers import race_processes
from sqlalchemy import create_engine
from store_contract import EventStoreContract, append

from phasedcare.errors import StoreError
from phasedcare.service.ports import EventStore
from phasedcare.store.sql import SqlEventStore
from phasedcare.store.tables import metadata

ROUNDS = 20


def migration_differences(url: str) -> list[object]:
    """What autogenerate would change to make the migrated schema match the tables."""
    engine = create_engine(url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    return list(differences)


class SqlContract(EventStoreContract):
    """Contract tests that only a SQL database can answer."""

    url: str

    def test_two_processes_racing_on_one_case_never_fork(self, store: EventStore) -> None:
        """Two processes append at the same sequence, 20 rounds: one wins each round, no fork."""
        append(store, "c-race", 0)
        rounds = race_processes(self.url, "c-race", ROUNDS)
        assert rounds == [["conflict", "ok"]] * ROUNDS
        assert [r.header.sequence for r in store.load("c-race")] == list(range(1, ROUNDS + 2))

    def test_the_migration_matches_the_tables(self, store: EventStore) -> None:
        """Alembic's schema and the SQLModel tables agree exactly."""
        assert migration_differences(self.url) == []


class TestSqliteEventStore(SqlContract):
    """SqlEventStore over SQLite keeps the contract."""

    @pytest.fixture
    def store(self, sqlite_url: str) -> Iterator[EventStore]:
        """A store on a fresh, migrated SQLite file."""
        self.url = sqlite_url
        store = SqlEventStore(sqlite_url)
        yield store
        store.close()


@pytest.mark.postgres
class TestPostgresEventStore(SqlContract):
    """SqlEventStore over PostgreSQL keeps the contract."""

    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[EventStore]:
        """A store on a fresh, migrated PostgreSQL schema."""
        self.url = postgres_url
        store = SqlEventStore(postgres_url)
        yield store
        store.close()


def test_an_unmigrated_database_asks_for_init(tmp_path: object) -> None:
    """Opening a database without the schema says to run phasedcare init, and creates nothing."""
    path = f"{tmp_path}/none.db"
    with pytest.raises(StoreError, match="run phasedcare init"):
        SqlEventStore(f"sqlite:///{path}")
