"""Authenticity and completeness as invariants, checked after every step of random histories.

Professionals open cases, record members and read; auditors export; an insider appends
unsealed records straight into the store and sometimes takes them out again. After every
step the server signs a checkpoint and the public-key verifier must agree with what really
happened: intact and wholly anchored when no forgery is in, else naming the first forged
record; and every case the engine wrote exports as a bundle complete through its head as of
the newest checkpoint.
"""

from __future__ import annotations

from datetime import UTC, datetime

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from phasedcare.domain.actors import Role
from phasedcare.errors import NotAuthentic
from phasedcare.ledger.bundle import verify_bundle
from phasedcare.ledger.chain import leaf_hash
from phasedcare.ledger.records import RecordHeader, StoredEvent
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of, memory_engine

VT = actor_of("vt-ijsselland", user="u-vt-01")
AUDITOR = actor_of("vt-ijsselland", user="u-aud-01", role=Role.auditor)
NAMES = st.sampled_from(["Cato Voorbeeld", "Daan Proefmans", "Ilse Testhuis"])


class LedgerLife(RuleBasedStateMachine):
    """One region's ledger under professionals, auditors and an insider."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
        self.engine: Engine = memory_engine(clock=self.clock)
        self.cases: list[str] = []
        self.forged: dict[str, int] = {}  # case: position of its forged record

    def _honest(self) -> list[str]:
        return [c for c in self.cases if c not in self.forged]

    @rule()
    def open_case(self) -> None:
        self.cases.append(self.engine.open_case(actor=VT, via="melding").case_id)

    @precondition(lambda self: self._honest())
    @rule(data=st.data(), name=NAMES)
    def record_member(self, data: st.DataObject, name: str) -> None:
        case_id = data.draw(st.sampled_from(self._honest()))
        self.engine.record_member(case_id, actor=VT, role="kind", name=name)

    @precondition(lambda self: self._honest())
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        self.engine.show(data.draw(st.sampled_from(self._honest())), actor=VT)

    @precondition(lambda self: self._honest())
    @rule(
        data=st.data(),
        event_type=st.sampled_from(["ShareGranted", "CaseErased", "HandoverAccepted"]),
    )
    def insider_appends(self, data: st.DataObject, event_type: str) -> None:
        """A chained, unsealed record written with store access and no key."""
        case_id = data.draw(st.sampled_from(self._honest()))
        head = self.engine.store.head(case_id)
        assert head is not None
        sequence, previous = head
        header = RecordHeader(case_id, sequence + 1, event_type, 1, datetime.now(UTC), "")
        payload = b'{"to_organisation": "politie-ijsselland"}'
        record = StoredEvent(header, payload, leaf_hash(header, payload, previous))
        self.engine.store.append(
            case_id=case_id, expected_sequence=sequence, records=[record], projection=None
        )
        self.forged[case_id] = max(r.position or 0 for r in self.engine.store.load(case_id))

    @invariant()
    def the_verifier_tells_what_happened(self) -> None:
        auditor = self.engine.auditor
        assert auditor is not None
        auditor.checkpoint()
        report = auditor.verify()
        if not self.forged:
            assert report.intact, report.problems
            assert report.unanchored == 0
            return
        assert not report.intact
        assert report.problems[0].position == min(self.forged.values()), report.problems[0]
        for case_id in self.forged:
            try:
                self.engine.show(case_id, actor=VT)
            except NotAuthentic:
                continue
            raise AssertionError(f"{case_id} opened with a forged record in it")

    @invariant()
    def every_honest_case_exports_complete(self) -> None:
        """Complete as of the newest checkpoint: through the case's last record under it
        (the clock stands still, so no export signs within the interval)."""
        auditor = self.engine.auditor
        assert auditor is not None
        for case_id in self._honest()[-2:]:
            bundle = self.engine.export_case(case_id, actor=AUDITOR)
            report = verify_bundle(bundle, public=auditor.public_key)
            assert report.intact, report.problems
            [checkpoint] = report.checkpoints
            latest = self.engine.store.latest_checkpoint()
            assert latest is not None
            assert checkpoint.size == latest[0]
            anchored = [
                r.header.sequence
                for r in self.engine.store.load(case_id)
                if r.tree_index is not None and r.tree_index < checkpoint.size
            ]
            assert report.complete_through == max(anchored)


TestLedgerLife = LedgerLife.TestCase
TestLedgerLife.settings = settings(max_examples=15, stateful_step_count=10, deadline=None)
