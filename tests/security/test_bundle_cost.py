"""Security finding M3: a case bundle is cheap and signs nothing new.

Before, every record's inclusion proof read every leaf of the tree (O(k·n) per bundle) and
every export signed a new checkpoint and witness file, so a caller could make the server
hash the whole ledger again and again and fill write-once witness storage. Now proofs come
from stored subtree roots (one 256-leaf block per record at most) and exports reuse the
newest checkpoint whose map holds the case's head.
"""

from __future__ import annotations

import pytest

from phasedcare.domain.actors import Role
from phasedcare.ledger.bundle import verify_bundle
from phasedcare.ledger.merkle import NODE_LEVEL
from phasedcare.service.engine import Engine
from phasedcare.store.memory import InMemoryEventStore
from phasedcare.testing import ManualClock, actor_of, memory_engine

VT = actor_of("vt-ijsselland", user="u-vt-01")
AUDITOR = actor_of("vt-ijsselland", user="u-aud-01", role=Role.auditor)
CASES = 1500
"""Enough cases that the tree spans several 256-leaf blocks."""


class CountingStore(InMemoryEventStore):
    """The in-memory store, counting the leaves handed out for proofs."""

    leaves_read = 0

    def tree_leaves(self, *, start: int = 0, stop: int | None = None) -> list[bytes]:
        leaves = super().tree_leaves(start=start, stop=stop)
        self.leaves_read += len(leaves)
        return leaves


@pytest.fixture(scope="module")
def region() -> tuple[Engine, str]:
    """A region of ``CASES`` small cases, checkpointed; the id of one in the middle."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = memory_engine(clock=clock, store=CountingStore())
    ids = [engine.open_case(actor=VT, via="melding").case_id for _ in range(CASES)]
    middle = ids[CASES // 2]
    for _ in range(3):
        engine.record_member(middle, actor=VT, role="kind", name="Cato Voorbeeld")
    clock.advance(hours=1)
    assert engine.auditor is not None
    engine.auditor.checkpoint()
    return engine, middle


def test_a_case_bundle_reads_a_block_per_record_not_the_ledger(region: tuple[Engine, str]) -> None:
    engine, case_id = region
    store = engine.store
    assert isinstance(store, CountingStore)
    size = len(store.tree_leaves())
    assert size > 4 << NODE_LEVEL, size
    store.leaves_read = 0
    bundle = engine.export_case(case_id, actor=AUDITOR)
    records = len(bundle["records"])
    assert records == 4
    assert store.leaves_read <= records << NODE_LEVEL, (store.leaves_read, size)
    assert store.leaves_read < size // 2
    assert engine.auditor is not None
    assert verify_bundle(bundle, public=engine.auditor.public_key).intact


def test_repeated_exports_sign_no_new_checkpoint(region: tuple[Engine, str]) -> None:
    engine, case_id = region
    store = engine.store
    first = engine.export_case(case_id, actor=AUDITOR)
    before = store.latest_checkpoint()
    for _ in range(5):
        again = engine.export_case(case_id, actor=AUDITOR)
        assert again["checkpoints"] == first["checkpoints"]
    assert store.latest_checkpoint() == before
