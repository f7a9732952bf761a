"""The contract suite over the in-memory store."""

from __future__ import annotations

import pytest
from credential_contract import CredentialStoreContract
from notification_contract import NotificationStoreContract
from store_contract import EventStoreContract, MakeStore

from phasedcare.store import InMemoryEventStore


class TestInMemoryEventStore(
    EventStoreContract, NotificationStoreContract, CredentialStoreContract
):
    """InMemoryEventStore keeps the EventStore contract, notifications and credentials included."""

    @pytest.fixture
    def make_store(self) -> MakeStore:
        """Every opening returns the same fresh store, as a second connection would."""
        store = InMemoryEventStore()
        return lambda: store
