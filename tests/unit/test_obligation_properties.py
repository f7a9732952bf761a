"""The obligations invariant under random command sequences (Hypothesis, stateful; issue 14).

The same household life as the regie property (:class:`CaseLife`: random commands from random
organisations, time passing, sweeps), with waivers added. After every step:

- every deadline the case lists is an open obligation, or one waived while still listed;
- no obligation ever disappears, and one that ended stays ended, the same way;
- an obligation ends only by a fulfilling event of its kind, a waiver, an expiry that makes it
  moot, or a recorded decision that took it away before it fell due;
- the book the engine keeps (folding only new events) is the one a fold from nothing gives.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule
from test_case_properties import ACTORS, CaseLife

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor
from phasedcare.domain.deadlines import FULFILLED_BY
from phasedcare.domain.obligations import MOOTED_BY, Obligation, obligations
from phasedcare.service.views import ObligationView

REASONS = st.sampled_from(["", "the household moved to another region", "x" * 3])


class ObligationLife(CaseLife):
    """One household's obligations under random commands, waivers among them."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, ObligationView] = {}

    def _obligations(self) -> list[ObligationView]:
        return self.engine.obligations(self.case_id, actor=self.vt)

    @rule(actor=ACTORS, pick=st.integers(0, 20), reason=REASONS)
    def waive(self, actor: Actor, pick: int, reason: str) -> None:
        """Someone waives one obligation (open or not, theirs or not), with or without a reason."""
        known = self._obligations()
        if not known:
            return
        target = known[pick % len(known)]
        self._try(
            cmd.WaiveObligation(
                case_id=self.case_id, obligation_id=target.id, reason=reason or "."
            ),
            actor,
        )

    @invariant()
    def every_listed_deadline_is_owed(self) -> None:
        view = self.engine.show(self.case_id, actor=self.vt)
        owed = {(o.kind, o.ref): o for o in self._obligations() if o.ended is None}
        waived = {
            (o.kind, o.ref)
            for o in self._obligations()
            if o.ended is not None and o.ended.event == "ObligationWaived"
        }
        for deadline in view.deadlines:
            assert (deadline.kind, deadline.ref) in owed.keys() | waived, deadline

    @invariant()
    def nothing_disappears_and_an_end_is_final(self) -> None:
        now = {o.id: o for o in self._obligations()}
        for obligation_id, before in self.seen.items():
            assert obligation_id in now, f"{obligation_id} disappeared"
            if before.ended is not None:
                after = now[obligation_id]
                assert (after.status, after.ended, after.ended_why) == (
                    before.status,
                    before.ended,
                    before.ended_why,
                )
        self.seen = now

    @invariant()
    def an_obligation_ends_only_by_a_recorded_reason(self) -> None:
        for o in self._obligations():
            if o.ended is None:
                assert o.status in ("open", "escalated")
                continue
            event = o.ended.event
            if o.status == "fulfilled":
                assert event in FULFILLED_BY[o.kind], o
            else:
                assert o.status == "moot", o
                assert (
                    event == "ObligationWaived"
                    or event in MOOTED_BY.get(o.kind, {})
                    or o.ended_why.endswith("before it fell due")
                ), o

    @invariant()
    def the_kept_book_is_a_fresh_fold(self) -> None:
        _, kept, _ = self.engine._tracked_with_head(self.case_id)
        events = self.engine._events(self.case_id)
        fresh: list[Obligation] = obligations(
            self.case_id, events, self.engine.policy, self.engine.policy.working_days()
        )
        assert kept.obligations == fresh


TestObligationLife = ObligationLife.TestCase
