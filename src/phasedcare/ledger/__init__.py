"""The trust core: the stored form of events and the mapper between events and records.

Nothing is imported eagerly: the verification path (``verify``, ``bundle``, ``checkpoints``,
``chain``, ``merkle``, ``heads``, ``authenticity``, ``records``, ``sealing``, ``notes`` and
``standalone``) needs only the standard library and ``cryptography``, while the mapper
brings the pydantic domain; it is loaded on first use of :class:`EventMapper`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phasedcare.ledger.mapper import EventMapper
    from phasedcare.ledger.records import RecordHeader, StoredEvent

_EXPORTS = {
    "EventMapper": "phasedcare.ledger.mapper",
    "RecordHeader": "phasedcare.ledger.records",
    "StoredEvent": "phasedcare.ledger.records",
}

__all__ = ["EventMapper", "RecordHeader", "StoredEvent"]


def __getattr__(name: str) -> Any:
    """Import public names on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'phasedcare.ledger' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(import_module(module), name)
