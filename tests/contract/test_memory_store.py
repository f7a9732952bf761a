"""The contract suite over the in-memory store."""

from __future__ import annotations

import pytest
from store_contract import EventStoreContract

from phasedcare.service.ports import EventStore
from phasedcare.store import InMemoryEventStore


class TestInMemoryEventStore(EventStoreContract):
    """InMemoryEventStore keeps the EventStore contract."""

    @pytest.fixture
    def store(self) -> EventStore:
        """A fresh in-memory store."""
        return InMemoryEventStore()
