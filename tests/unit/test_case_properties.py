"""Properties of a case under random command sequences (Hypothesis, stateful)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor
from phasedcare.domain.charts import PhaseChart, VeiligThuisChart
from phasedcare.errors import PhasedCareError
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.webhooks import WebhookSender
from phasedcare.testing import ManualClock, actor_of, memory_engine
from support import handover

ORGANISATIONS = (
    "vt-ijsselland",
    "wijkteam-zwolle",
    "wijkteam-deventer",
    "mda-ijsselland",
    "politie-ijsselland",
)
ACTORS = st.sampled_from([actor_of(org) for org in ORGANISATIONS])
PARTY = st.sampled_from([None, *ORGANISATIONS])  # None: the party the command is for
PHASE_EVENTS = list(PhaseChart.rules)
VT_EVENTS = list(VeiligThuisChart.rules)
PHASE_VALUES = {s.value for s in PhaseChart.states}
VT_VALUES = {s.value for s in VeiligThuisChart.states}
REGIE_CAPABLE = {"vt-ijsselland", "wijkteam-zwolle", "wijkteam-deventer", "mda-ijsselland"}


class CaseLife(RuleBasedStateMachine):
    """One household under random commands from random organisations."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock.starting("2026-01-05T09:00:00+00:00")
        self.engine: Engine = memory_engine(clock=self.clock)
        self.vt = actor_of("vt-ijsselland")
        self.case_id = self.engine.open_case(actor=self.vt, via="melding").case_id
        self.engine.record_member(self.case_id, actor=self.vt, role="kind", name="Gijs Proefmans")
        self.engine.add_safety_condition(
            self.case_id,
            actor=self.vt,
            statement="Synthetic",
            owner="vt-ijsselland",
            check_every_days=7,
        )
        self.snapshots: dict[int, tuple[str, str, str, str]] = {}
        self.at_times: dict[datetime, tuple[str, str, str, str]] = {}
        self.regie = "vt-ijsselland"
        self.refusals = 0
        self.jobs = Jobs(engine=self.engine, sender=WebhookSender(), clock=self.clock)

    def _try(self, command: cmd.Command, actor: Actor) -> None:
        before = self.engine.show(self.case_id, actor=self.vt).sequence
        try:
            self.engine.handle(command, actor=actor)
        except PhasedCareError:
            self.refusals += 1
            assert self.engine.show(self.case_id, actor=self.vt).sequence == before
            return
        self._check_regie_moves_only_on_acceptance(before)

    def _check_regie_moves_only_on_acceptance(self, before: int) -> None:
        view = self.engine.show(self.case_id, actor=self.vt)
        new_events = [
            e.event_type for e in self.engine.history(self.case_id, actor=self.vt)[before:]
        ]
        if view.regie.organisation != self.regie:
            # an accepted handover moves regie; a hermelding on a closed case returns it to
            # Veilig Thuis (domain.md 2.7), and nothing else moves it
            assert "HandoverAccepted" in new_events or (
                "RegieReturned" in new_events and view.regie.organisation == self.vt.organisation
            ), new_events
        self.regie = view.regie.organisation
        state = (view.phase, view.vt_stage, view.regie.organisation, view.regie.casusregisseur)
        self.snapshots[view.sequence] = state
        self.at_times[self.clock.now] = state

    @rule(
        actor=ACTORS, event=st.sampled_from(PHASE_EVENTS), reason=st.sampled_from(["", "incident"])
    )
    def fire_phase(self, actor: Actor, event: str, reason: str) -> None:
        self._try(
            cmd.FireEvent(case_id=self.case_id, chart="phase", event=event, reason=reason), actor
        )

    @rule(actor=ACTORS, event=st.sampled_from(VT_EVENTS), reason=st.sampled_from(["", "grond"]))
    def fire_vt(self, actor: Actor, event: str, reason: str) -> None:
        self._try(
            cmd.FireEvent(case_id=self.case_id, chart="vt", event=event, reason=reason), actor
        )

    @rule(actor=ACTORS)
    def add_condition(self, actor: Actor) -> None:
        self._try(
            cmd.AddSafetyCondition(
                case_id=self.case_id,
                statement="Synthetic",
                owner="wijkteam-zwolle",
                check_every_days=14,
            ),
            actor,
        )

    @rule(
        actor=ACTORS,
        number=st.integers(1, 3),
        status=st.sampled_from(["met", "breached", "unknown"]),
    )
    def check_condition(self, actor: Actor, number: int, status: str) -> None:
        self._try(
            cmd.RecordConditionStatus(
                case_id=self.case_id,
                condition_id=f"c{number}",
                status=status,
                observed_on=self.clock.today,
            ),
            actor,
        )

    @rule(actor=ACTORS)
    def agree_plan(self, actor: Actor) -> None:
        self._try(cmd.AgreeSafetyPlan(case_id=self.case_id, agreed_on=self.clock.today), actor)

    @rule(actor=ACTORS)
    def assess_risk(self, actor: Actor) -> None:
        self._try(
            cmd.RecordRiskAssessment(
                case_id=self.case_id,
                instrument="LIRIK",
                instrument_version="2",
                level="verhoogd",
                assessed_on=self.clock.today,
            ),
            actor,
        )

    @rule(actor=ACTORS, days_ago=st.integers(0, 10))
    def incident(self, actor: Actor, days_ago: int) -> None:
        self._try(
            cmd.RecordIncident(
                case_id=self.case_id, occurred_on=self.clock.today - timedelta(days=days_ago)
            ),
            actor,
        )

    @rule(party=PARTY, to=st.sampled_from(ORGANISATIONS))
    def propose(self, party: str | None, to: str) -> None:
        self._try(handover(self.case_id, to), actor_of(party or self.regie))

    @rule(
        party=PARTY,
        number=st.integers(1, 3),
        answer=st.sampled_from(["accept", "reject", "withdraw"]),
    )
    def answer(self, party: str | None, number: int, answer: str) -> None:
        handover_id = f"h{number}"
        open_ones = self.engine.show(self.case_id, actor=self.vt).handovers
        receiver = next((h.to_organisation for h in open_ones if h.status == "proposed"), None)
        actor = actor_of(party or receiver or self.regie)
        command: cmd.Command = {
            "accept": cmd.AcceptHandover(
                case_id=self.case_id, handover_id=handover_id, casusregisseur=actor.user
            ),
            "reject": cmd.RejectHandover(
                case_id=self.case_id, handover_id=handover_id, reason="no capacity"
            ),
            "withdraw": cmd.WithdrawHandover(case_id=self.case_id, handover_id=handover_id),
        }[answer]
        self._try(command, actor)

    @rule(days=st.integers(1, 200))
    def time_passes(self, days: int) -> None:
        self.clock.advance(days=days)

    @rule()
    def sweep(self) -> None:
        """The scheduled sweep expires unanswered handovers; it never moves regie."""
        before = self.engine.show(self.case_id, actor=self.vt).sequence
        self.jobs.sweep_deadlines()
        self._check_regie_moves_only_on_acceptance(before)
        view = self.engine.show(self.case_id, actor=self.vt)
        late = [
            h for h in view.handovers if h.status == "proposed" and h.respond_by < self.clock.today
        ]
        assert late == []

    @rule(actor=ACTORS, acute=st.booleans())
    def new_melding(self, actor: Actor, acute: bool) -> None:
        """A new melding about the household: classified, and a terugval past directe veiligheid."""
        self._try(cmd.RecordMelding(case_id=self.case_id, acute=acute), actor)

    @invariant()
    def exactly_one_regiehouder_of_a_kind_that_may_hold_it(self) -> None:
        view = self.engine.show(self.case_id, actor=self.vt)
        assert view.regie.organisation in REGIE_CAPABLE
        assert view.regie.casusregisseur
        assert view.regie == view.regie_history[-1]

    @invariant()
    def at_most_one_handover_waits_for_an_answer(self) -> None:
        view = self.engine.show(self.case_id, actor=self.vt)
        assert sum(h.status == "proposed" for h in view.handovers) <= 1

    @invariant()
    def states_are_those_of_the_charts(self) -> None:
        view = self.engine.show(self.case_id, actor=self.vt)
        assert view.phase in PHASE_VALUES
        assert view.vt_stage in VT_VALUES

    def teardown(self) -> None:
        for sequence, expected in self.snapshots.items():
            state = self.engine.state_at(self.case_id, actor=self.vt, sequence=sequence)
            assert (
                state.phase,
                state.vt_stage,
                state.regie.organisation,
                state.regie.casusregisseur,
            ) == expected
        for moment, expected in self.at_times.items():
            state = self.engine.state_at(self.case_id, actor=self.vt, at=moment)
            assert (
                state.phase,
                state.vt_stage,
                state.regie.organisation,
                state.regie.casusregisseur,
            ) == expected
        assert self.engine.projection_differences() == []
        self.jobs.close()


TestCaseLife = CaseLife.TestCase
