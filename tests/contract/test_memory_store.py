"""The contract suite over the in-memory store."""

from __future__ import annotations

import pytest
from notification_contract import NotificationStoreContract
from store_contract import EventStoreContract, MakeStore

from phasedcare.store import InMemoryEventStore


class TestInMemoryEventStore(EventStoreContract, NotificationStoreContract):
    """InMemoryEventStore keeps the EventStore contract, notifications included."""

    @pytest.fixture
    def make_store(self) -> MakeStore:
        """Every opening returns the same fresh store, as a second connection would."""
        store = InMemoryEventStore()
        return lambda: store
