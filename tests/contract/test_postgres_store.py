"""The contract suite over PostgreSQL (a fresh schema per test; skipped without a server)."""

from __future__ import annotations

import pytest
from credential_contract import PostgresCredentialStoreContract
from notification_contract import PostgresNotificationStoreContract
from store_contract import SqlEventStoreContract

from phasedcare.errors import StoreError
from phasedcare.store import SqlEventStore


@pytest.mark.postgres
class TestPostgresEventStore(
    SqlEventStoreContract, PostgresNotificationStoreContract, PostgresCredentialStoreContract
):
    """SqlEventStore over PostgreSQL keeps the contract, notifications and credentials too."""

    @pytest.fixture
    def database_url(self, postgres_url: str) -> str:
        """A fresh, migrated schema, dropped afterwards."""
        return postgres_url

    @pytest.fixture
    def blank_url(self, blank_postgres_url: str) -> str:
        """A fresh schema nobody migrated, dropped afterwards."""
        return blank_postgres_url


def test_an_unreachable_server_is_a_store_error() -> None:
    """Nothing listening at the URL: StoreError says the database cannot be opened."""
    with pytest.raises(StoreError, match="cannot open the database"):
        SqlEventStore("postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2")
