"""The trust core: the stored form of events and the mapper between events and records."""

from phasedcare.ledger.mapper import EventMapper
from phasedcare.ledger.records import RecordHeader, StoredEvent

__all__ = ["EventMapper", "RecordHeader", "StoredEvent"]
