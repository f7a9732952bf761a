"""A synthetic national load: households walked through years of care by the engine's commands.

``simulate`` opens ``households`` synthetic households at random moments over ``years`` up to
now and takes each along the shapes of ``domain.md`` (the shares below), through the same
``Engine.handle`` every user goes through, with a simulated clock:

* half adviezen, half meldingen; of the meldingen about 65% from the police;
* a veiligheidsbeoordeling for every melding, within 5 werkdagen or late (the daily deadline
  sweep escalates the late ones, as the flows do);
* the Veilig Thuis outcomes and their shares (``OUTCOMES``), onderzoek within 10 weken or late;
* warm handovers to a wijkteam: accepted, rejected and sent elsewhere, or left unanswered
  until the sweep expires them;
* safety conditions checked at their cadence by the regiehouder, a round missed now and then
  (the sweep escalates the late check), and Veilig Thuis's monitoring checks at 3 and 12
  months after the accepted overdracht (or the decision voorwaarden en vervolg);
* terugval (a breached condition, an unsafe monitoring moment), MDA++ for about 5% of the
  serious cases, and a new melding about a third of the households (a known household:
  vervolgmelding or hermelding), found through the blind index as Veilig Thuis would;
* professionals reading the case before they act (each read is in the access log).

Every person is invented: names come from the lists below and say so. The households' steps
are merged in time order, so the ledger grows the way a region's would.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import count

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.obligations import NOT_WAIVED
from phasedcare.domain.policy import OrganisationKind, RegionalPolicy
from phasedcare.domain.vt_outcome import OnderzoekGround
from phasedcare.errors import PhasedCareError
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.webhooks import WebhookSender
from phasedcare.testing import ManualClock

__all__ = ["OUTCOMES", "SimulationReport", "simulate"]

OUTCOMES = {
    "overdracht": 0.45,
    "voorwaarden_en_vervolg": 0.20,
    "onderzoek": 0.15,
    "einde_bemoeienis": 0.13,
    "omzetten_naar_advies": 0.05,
    "verzoek_rvdk": 0.02,
}
"""What follows a veiligheidsbeoordeling, and how often (onderzoek at most about 20%)."""

ADVIES_SHARE = 0.5  # about 130,000 adviezen and 130,000 meldingen a year
ADVIES_TO_MELDING = 0.10  # an advies that is converted into a melding
POLICE_SHARE = 0.65  # of the meldingen
LATE_ASSESSMENT = 0.30  # veiligheidsbeoordelingen past 5 werkdagen (none of the 25 VTs met all)
LATE_ONDERZOEK = 0.20  # onderzoeken past 10 weken
HANDOVER_ANSWERS = {"accept": 0.85, "reject": 0.05, "unanswered": 0.10}
BREACH = 0.25  # a safety condition breached in stabiele veiligheid: terugval
UNSAFE_MONITORING = 0.10  # a monitoring moment that finds it unsafe: terugval
LATE_MONITORING = 0.15  # a monitoring check after its moment was due (escalated meanwhile)
MISSED_CONDITION_CHECK = 0.08  # a round of condition checks skipped: overdue, escalated
VERVOLGMELDING = 0.15  # a new melding about the household while care goes on: terugval
HERMELDING = 0.20  # a new melding after the case closed (with vervolgmeldingen, 30-38% known)
MDA_OF_SERIOUS = 0.05  # MDA++ for about 5% of the seriously unsafe households
READ_BEFORE_ACTING = 0.2  # a professional opens the case before a command

_FIRST = ("Anna", "Bram", "Cato", "Daan", "Eva", "Finn", "Guus", "Hanna", "Ilse", "Joris")
_LAST = ("Voorbeeld", "Proefmans", "Testhuis", "Demostra", "Fictief", "Verzinsel")
_SWEEP_HOUR = 6


@dataclass(frozen=True, slots=True)
class Step:
    """One thing a professional does at a moment: a command, or a read when ``command`` is None."""

    at: datetime
    actor: Actor
    command: cmd.Command | None = None
    case_id: str = ""
    search: tuple[str, date] | None = None
    handover: str = ""
    waive: str = ""
    """Before a closure: ``actor`` waives, with this reason, each open obligation the closure
    weighs (its own organisation's for Veilig Thuis's track, all for the case), as the
    professional who closes reads them and records why each no longer applies."""


@dataclass(slots=True)
class SimulationReport:
    """What a simulation did: counts only (no case content)."""

    households: int = 0
    commands: int = 0
    reads: int = 0
    searches: int = 0
    sweeps: int = 0
    escalated: int = 0
    expired: int = 0
    waived: int = 0
    obligations: Counter[str] = field(default_factory=Counter)
    """The obligations of the households at the end, by status (fulfilled, moot, open,
    escalated): the simulation meets most and misses some, which stay open or were waived."""
    refused: Counter[str] = field(default_factory=Counter)
    paths: Counter[str] = field(default_factory=Counter)
    first_day: date | None = None
    last_day: date | None = None

    @property
    def steps(self) -> int:
        """Commands, reads, searches and sweeps carried out."""
        return self.commands + self.reads + self.searches + self.sweeps


@dataclass(frozen=True, slots=True)
class _Region:
    """The organisations and professionals the simulation acts as."""

    vt: tuple[Actor, ...]
    teams: tuple[str, ...]
    mda: str | None
    local_date: Callable[[datetime], date]  # the region's day of a moment (its time zone)

    @classmethod
    def of(cls, policy: RegionalPolicy) -> _Region:
        vt_id = policy.veilig_thuis.id
        teams = tuple(o.id for o in policy.organisations if o.kind is OrganisationKind.lokaal_team)
        mda = next((o.id for o in policy.organisations if o.kind is OrganisationKind.mda), None)
        vt = tuple(
            Actor(user=f"u-vt-sim-{n:02d}", organisation=vt_id, role=Role.professional)
            for n in range(1, 9)
        )
        return cls(vt=vt, teams=teams, mda=mda, local_date=policy.local_date)

    def professional(self, organisation: str, rng: random.Random) -> Actor:
        return Actor(
            user=f"u-{organisation[:12]}-sim-{rng.randrange(1, 9):02d}",
            organisation=organisation,
            role=Role.professional,
        )


class _Household:
    """One synthetic household's history, produced step by step in time order."""

    def __init__(self, case_id: str, start: datetime, region: _Region, rng: random.Random) -> None:
        self.case_id = case_id
        self.t = start
        self.region = region
        self.rng = rng
        self.vt = rng.choice(region.vt)
        self.conditions = 0
        self.cadence = 28  # days between rounds of condition checks: the most frequent one
        self.handovers = 0
        self.members: list[tuple[str, date]] = []
        self.regie: Actor = self.vt
        self.closed = False  # the phase chart closed: a hermelding returns regie to Veilig Thuis
        self.path: list[str] = []
        self.taxatie: dict[str, bool] = {}

    # -- helpers ----------------------------------------------------------------------------

    @property
    def today(self) -> date:
        """The region's date at the household's moment."""
        return self.region.local_date(self.t)

    def later(self, *, days: float = 0, hours: float = 0) -> datetime:
        self.t += timedelta(days=days, hours=hours)
        return self.t

    def watched(self, *, days: float) -> Iterator[Step]:
        """``days`` pass while the regiehouder checks the safety conditions at their cadence,
        a day or two before each is due; now and then a round is missed."""
        until = self.t + timedelta(days=days)
        while self.conditions and self.t + timedelta(days=self.cadence) < until:
            self.later(days=self.cadence - self.rng.uniform(1, 2))
            if self.rng.random() >= MISSED_CONDITION_CHECK:
                yield from self.check_conditions()
        self.t = max(self.t, until)

    def step(self, actor: Actor, command: cmd.Command) -> Iterator[Step]:
        if self.rng.random() < READ_BEFORE_ACTING and not isinstance(command, cmd.OpenCase):
            # A receiver reads what is handed over; it may not read the case before accepting.
            handover = (
                getattr(command, "handover_id", "")
                if actor.organisation != self.vt.organisation
                else ""
            )
            yield Step(self.t, actor, None, self.case_id, handover=handover)
            self.t += timedelta(minutes=5)
        yield Step(self.t, actor, command, self.case_id)
        self.t += timedelta(minutes=2)

    def fire(
        self, actor: Actor, event: str, chart: str = "phase", reason: str = ""
    ) -> Iterator[Step]:
        yield from self.step(
            actor, cmd.FireEvent(case_id=self.case_id, chart=chart, event=event, reason=reason)
        )

    def decide(
        self, event: str, reason: str = "", ground: OnderzoekGround | None = None
    ) -> Iterator[Step]:
        """A Veilig Thuis decision; the first after a veiligheidsbeoordeling records its
        veiligheidstaxatie."""
        taxatie, self.taxatie = self.taxatie, {}
        yield from self.step(
            self.vt,
            cmd.FireEvent(
                case_id=self.case_id,
                chart="vt",
                event=event,
                reason=reason,
                onderzoek_ground=ground,
                **taxatie,
            ),
        )

    # -- the walk ---------------------------------------------------------------------------

    def walk(self) -> Iterator[Step]:
        if self.rng.random() < ADVIES_SHARE:
            if self.rng.random() >= ADVIES_TO_MELDING:
                yield from self.advies()
                return
            yield from self.open("advies")
            self.later(days=self.rng.uniform(1, 10))
            yield from self.fire(self.vt, "omzetten_naar_melding", "vt")
        else:
            yield from self.open("melding")
        yield from self.household_members()
        yield from self.assessment(first=True)
        if self.rng.random() < HERMELDING:
            self.later(days=self.rng.uniform(20, 400))
            yield from self.known_household_melding()
            yield from self.assessment(first=False)

    def advies(self) -> Iterator[Step]:
        self.path.append("advies")
        yield from self.open("advies")
        self.later(days=self.rng.uniform(0, 3))
        yield from self.fire(self.vt, "advies_afronden", "vt")
        yield from self.fire(self.vt, "afsluiten")

    def open(self, via: str) -> Iterator[Step]:
        police = via == "melding" and self.rng.random() < POLICE_SHARE
        kind = "politie" if police else self.rng.choice(["professional", "burger", "anoniem"])
        melder = self.rng.choice(self.region.teams) if kind == "professional" else ""
        yield from self.step(
            self.vt,
            cmd.OpenCase(
                via=via,
                melder_kind=kind,
                melder_organisation=melder,
                acute=self.rng.random() < 0.1,
                summary="Synthetic melding generated by phasedcare simulate.",
                case_id=self.case_id,
            ),
        )

    def household_members(self) -> Iterator[Step]:
        last = self.rng.choice(_LAST)
        roles = ["slachtoffer", "pleger"] + ["kind"] * self.rng.choice([0, 1, 1, 2, 3])
        for role in roles:
            year = (
                2008 + self.rng.randrange(16) if role == "kind" else 1960 + self.rng.randrange(40)
            )
            born = date(year, 1 + self.rng.randrange(12), 1 + self.rng.randrange(28))
            name = f"{self.rng.choice(_FIRST)} {last}"
            self.members.append((name, born))
            yield from self.step(
                self.vt,
                cmd.RecordMember(case_id=self.case_id, role=role, name=name, date_of_birth=born),
            )

    def assessment(self, *, first: bool) -> Iterator[Step]:
        """A veiligheidsbeoordeling, its outcome, and what follows it."""
        received = self.t
        self.later(hours=self.rng.uniform(1, 30))
        yield from self.fire(self.vt, "start_veiligheidsbeoordeling", "vt")
        yield from self.add_conditions(self.rng.randint(1, 3))
        level = self.rng.choices(["laag", "verhoogd", "hoog"], [0.3, 0.45, 0.25])[0]
        yield from self.risk_assessment(level)
        self.taxatie = {
            "acute_onveiligheid": level == "hoog" and self.rng.random() < 0.4,
            "structurele_onveiligheid": level != "laag",
        }
        late = self.rng.random() < LATE_ASSESSMENT
        self.t = received + timedelta(
            days=self.rng.uniform(8, 25) if late else self.rng.uniform(1, 6)
        )
        if first:
            self.path.append("late" if late else "in_time")
        outcome = self.rng.choices(list(OUTCOMES), list(OUTCOMES.values()))[0]
        if outcome == "onderzoek":
            yield from self.onderzoek()
            outcome = self.rng.choices(
                ["overdracht", "voorwaarden_en_vervolg", "einde_bemoeienis"], [0.5, 0.3, 0.2]
            )[0]
        self.path.append(outcome)
        yield from getattr(self, outcome)(level)

    def add_conditions(self, number: int) -> Iterator[Step]:
        for _ in range(number):
            self.conditions += 1
            every = self.rng.choice([7, 14, 28])
            self.cadence = min(self.cadence, every)
            yield from self.step(
                self.vt,
                cmd.AddSafetyCondition(
                    case_id=self.case_id,
                    statement=f"Synthetic safety condition {self.conditions}.",
                    owner=self.rng.choice(self.region.teams),
                    check_every_days=every,
                    check_method="home visit",
                ),
            )

    def risk_assessment(self, level: str) -> Iterator[Step]:
        yield from self.step(
            self.vt,
            cmd.RecordRiskAssessment(
                case_id=self.case_id,
                instrument="VT-triage",
                instrument_version="2023",
                level=level,
                assessed_on=self.today,
                items={"structurele_onveiligheid": "ja" if level == "hoog" else "nee"},
            ),
        )

    def onderzoek(self) -> Iterator[Step]:
        ground = self.rng.choice(list(OnderzoekGround))
        yield from self.decide("besluit_onderzoek", "Synthetic onderzoek.", ground)
        late = self.rng.random() < LATE_ONDERZOEK
        yield from self.watched(
            days=self.rng.uniform(71, 100) if late else self.rng.uniform(14, 68)
        )

    def end_track(self, event: str) -> Iterator[Step]:
        """Outcomes after which Veilig Thuis closes its involvement."""
        yield from self.decide(event, "Synthetic motivation: no further steps needed.")
        yield from self.watched(days=self.rng.uniform(1, 60))
        yield from self.close_vt()
        yield from self.close_phase()

    def waive_missed(self, actor: Actor) -> Iterator[Step]:
        """Before a closure, ``actor`` records why each duty still open no longer applies."""
        yield Step(self.t, actor, None, self.case_id, waive=_WAIVER)
        self.t += timedelta(minutes=2)

    def close_vt(self) -> Iterator[Step]:
        """Veilig Thuis closes its track, waiving first what it missed."""
        yield from self.waive_missed(self.vt)
        yield from self.fire(self.vt, "vt_afsluiten", "vt")

    def close_phase(self) -> Iterator[Step]:
        """Close the phase chart from aanmelding or herstel (it stays open elsewhere)."""
        yield from self.waive_missed(self.regie)
        yield from self.fire(self.regie, "afsluiten")
        self.closed = True

    def einde_bemoeienis(self, level: str) -> Iterator[Step]:
        yield from self.end_track("besluit_einde_bemoeienis")

    def omzetten_naar_advies(self, level: str) -> Iterator[Step]:
        yield from self.end_track("besluit_omzetten_naar_advies")

    def verzoek_rvdk(self, level: str) -> Iterator[Step]:
        if not any(True for _ in self.children()):
            yield from self.end_track("besluit_einde_bemoeienis")
            return
        yield from self.end_track("besluit_verzoek_rvdk")

    def children(self) -> Iterator[tuple[str, date]]:
        return (m for m in self.members if m[1].year >= 2006)

    def directe_veiligheid(self) -> Iterator[Step]:
        # The regiehouder starts it: Veilig Thuis at first and after a hermelding on a closed
        # case, the team holding regie after a new melding on a case still open.
        yield from self.fire(self.regie, "start_directe_veiligheid")
        yield from self.step(
            self.regie,
            cmd.AgreeSafetyPlan(
                case_id=self.case_id, agreed_on=self.today, summary="Synthetic safety plan."
            ),
        )

    def overdracht(self, level: str) -> Iterator[Step]:
        yield from self.directe_veiligheid()
        yield from self.decide("besluit_overdracht")
        others = [t for t in self.region.teams if t != self.regie.organisation]
        yield from self.hand_over(self.rng.choice(others or list(self.region.teams)))
        yield from self.fire(self.vt, "start_monitoring", "vt")
        yield from self.care(level, monitoring_start=self.t)

    def voorwaarden_en_vervolg(self, level: str) -> Iterator[Step]:
        yield from self.directe_veiligheid()
        yield from self.decide("besluit_voorwaarden_en_vervolg")
        yield from self.fire(self.vt, "start_monitoring", "vt")
        yield from self.care(level, monitoring_start=self.t)

    def hand_over(self, team: str) -> Iterator[Step]:
        """A warm handover to ``team``: answered, rejected and sent elsewhere, or expired."""
        answer = self.rng.choices(list(HANDOVER_ANSWERS), list(HANDOVER_ANSWERS.values()))[0]
        self.path.append(f"handover_{answer}")
        yield from self.propose(team)
        handover_id = f"h{self.handovers}"
        receiver = self.region.professional(team, self.rng)
        if answer == "accept":
            self.later(days=self.rng.uniform(0.5, 4))
            yield from self.step(
                receiver,
                cmd.AcceptHandover(
                    case_id=self.case_id, handover_id=handover_id, casusregisseur=receiver.user
                ),
            )
            self.regie = receiver
            return
        if answer == "reject":
            self.later(days=self.rng.uniform(0.5, 4))
            yield from self.step(
                receiver,
                cmd.RejectHandover(
                    case_id=self.case_id,
                    handover_id=handover_id,
                    reason="No capacity in this team (synthetic).",
                ),
            )
        else:
            self.later(days=self.rng.uniform(12, 20))  # the daily sweep expires it meanwhile
        others = [t for t in self.region.teams if t not in (team, self.regie.organisation)]
        yield from self.hand_over_accepted(self.rng.choice(others or [team]))

    def hand_over_accepted(self, team: str) -> Iterator[Step]:
        if team == self.regie.organisation:  # it holds regie already (a second MDA++ round)
            return
        yield from self.propose(team)
        receiver = self.region.professional(team, self.rng)
        self.later(days=self.rng.uniform(0.5, 3))
        yield from self.step(
            receiver,
            cmd.AcceptHandover(
                case_id=self.case_id, handover_id=f"h{self.handovers}", casusregisseur=receiver.user
            ),
        )
        self.regie = receiver

    def propose(self, team: str) -> Iterator[Step]:
        self.handovers += 1
        yield from self.step(
            self.regie,
            cmd.ProposeHandover(
                case_id=self.case_id,
                to_organisation=team,
                safety_conditions=[f"c{n}" for n in range(1, self.conditions + 1)],
                monitoring_agreement="Veilig Thuis checks the conditions at 3 and 12 months.",
                risk_summary="Synthetic risk summary.",
                legal_basis="art. 5.2.6 Wmo 2015",
                household_informed=True,
            ),
        )

    def check_conditions(self, status: str = "met") -> Iterator[Step]:
        for number in range(1, self.conditions + 1):
            yield from self.step(
                self.regie,
                cmd.RecordConditionStatus(
                    case_id=self.case_id,
                    condition_id=f"c{number}",
                    status=status if number == 1 else "met",
                    observed_on=self.today,
                    evidence="Checked during a home visit (synthetic).",
                ),
            )

    def care(self, level: str, *, monitoring_start: datetime) -> Iterator[Step]:
        """Risk-driven care: stabiele veiligheid, terugval, MDA++, herstel, closure."""
        yield from self.watched(days=self.rng.uniform(14, 45))
        yield from self.check_conditions()
        yield from self.fire(self.regie, "naar_stabiele_veiligheid")
        yield from self.monitoring_moment(monitoring_start, months=3)
        yield from self.maybe_terugval(level)
        yield from self.watched(days=self.rng.uniform(95, 150))
        yield from self.check_conditions()
        yield from self.fire(self.regie, "naar_herstel")
        if not (yield from self.monitoring_moment(monitoring_start, months=12)):
            yield from self.watched(days=self.rng.uniform(95, 150))
            yield from self.check_conditions()
            yield from self.fire(self.regie, "naar_herstel")
        ends = monitoring_start + timedelta(days=370)
        yield from self.watched(days=max(0.0, (ends - self.t).total_seconds() / 86400))
        yield from self.close_vt()
        yield from self.watched(days=self.rng.uniform(30, 180))
        yield from self.close_phase()
        self.path.append("closed")

    def maybe_terugval(self, level: str) -> Iterator[Step]:
        """A breached condition or a new melding sends the case back to directe veiligheid."""
        chance = self.rng.random()
        if chance >= BREACH + VERVOLGMELDING:
            return
        self.path.append("terugval")
        yield from self.watched(days=self.rng.uniform(5, 40))
        if chance < BREACH:
            yield from self.check_conditions("breached")
        else:
            yield from self.known_household_melding()
        if level == "hoog" and self.rng.random() < MDA_OF_SERIOUS * 4:
            yield from self.mda()
        yield from self.watched(days=self.rng.uniform(14, 45))
        yield from self.check_conditions()
        yield from self.fire(self.regie, "naar_stabiele_veiligheid")

    def monitoring_moment(self, start: datetime, *, months: int) -> Generator[Step, None, bool]:
        """A monitoring moment; an unsafe one is a terugval (returns whether it was safe)."""
        late = self.rng.random() < LATE_MONITORING
        after = self.rng.uniform(3, 25) if late else -self.rng.uniform(1, 7)
        moment = start + timedelta(days=30.4 * months + after)
        yield from self.watched(days=max(0.0, (moment - self.t).total_seconds() / 86400))
        safe = self.rng.random() >= UNSAFE_MONITORING
        yield from self.step(
            self.vt,
            cmd.RecordMonitoringCheck(
                case_id=self.case_id,
                checked_on=self.today,
                outcome="veilig" if safe else "onveilig",
            ),
        )
        if not safe:
            self.path.append("monitoring_onveilig")
            yield from self.watched(days=self.rng.uniform(7, 30))
            yield from self.check_conditions()
            yield from self.fire(self.regie, "naar_stabiele_veiligheid")
        return safe

    def mda(self) -> Iterator[Step]:
        """Opschalen to MDA++: the criteria weighed, regie handed to the MDA++ team."""
        if self.region.mda is None:
            return
        self.path.append("mda")
        yield from self.step(
            self.vt,
            cmd.AssessMdaCriteria(
                case_id=self.case_id,
                met=["structurele-onveiligheid", "hoge-kans-op-herhaling"],
                note="Triage meeting (synthetic).",
            ),
        )
        yield from self.hand_over_accepted(self.region.mda)

    def known_household_melding(self) -> Iterator[Step]:
        """A new melding about this household, found through the blind index first."""
        name, born = self.rng.choice(self.members)
        yield Step(self.t, self.vt, None, self.case_id, search=(name, born))
        self.path.append("known_household")
        yield from self.step(
            self.vt,
            cmd.RecordMelding(
                case_id=self.case_id,
                melder_kind="politie" if self.rng.random() < POLICE_SHARE else "burger",
                summary="Synthetic new melding about a known household.",
            ),
        )
        if self.closed:  # zicht op veiligheid is Veilig Thuis's again (domain.md 2.7)
            self.regie, self.closed = self.vt, False


_WAIVER = "Synthetic: the moment passed unrecorded; the household was seen otherwise."


def simulate(
    engine: Engine,
    clock: ManualClock,
    *,
    households: int,
    years: float,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> SimulationReport:
    """Walk ``households`` synthetic households through ``years`` up to the clock's now.

    The engine must run on ``clock``; the clock is moved to each step's moment
    and back to now at the end. A refused command ends its household's walk and is counted
    by rule (a correct simulation refuses nothing). ``progress`` gets the number of steps done.
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    end = clock.now
    start = end - timedelta(days=365 * years)
    region = _Region.of(engine.policy)
    report = SimulationReport(first_day=region.local_date(start), last_day=region.local_date(end))
    prefix = f"c-sim{seed}-"
    if engine.store.projection(f"{prefix}{0:07d}") is not None:
        msg = f"this database holds the simulation of seed {seed} already: pick another --seed"
        raise ValueError(msg)
    queue = _Queue()
    walks: dict[int, _Household] = {}
    for number in range(households):
        opened = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
        household = _Household(f"{prefix}{number:07d}", opened, region, random.Random(rng.random()))  # noqa: S311
        walks[number] = household
        queue.add(household.walk(), number)
    queue.add(_sweeps(start, end, region.vt[0]), -1)
    report.households = households
    sender = WebhookSender()  # the sweep sends nothing: no webhook is subscribed here
    jobs = Jobs(engine=engine, sender=sender, clock=clock)
    own = [household.case_id for household in walks.values()]
    try:
        for done, (number, step) in enumerate(queue.until(end), start=1):
            clock.now = step.at
            if not _run(engine, jobs, step, report, own):
                queue.drop(number)
            if progress is not None:
                progress(done)
    finally:
        clock.now = end
        sender.close()
    for household in walks.values():
        report.paths.update(household.path)
        report.obligations.update(
            o.status for o in engine.obligations(household.case_id, actor=region.vt[0])
        )
    return report


def _waive_open(engine: Engine, step: Step) -> int:
    """Waive, with the step's reason, every open obligation the actor's closure weighs: its
    own as itself, another organisation's as Veilig Thuis (which may waive any)."""
    vt = Actor.parse(f"u-vt-sim@{engine.policy.veilig_thuis.id}:professional")
    closing_vt = step.actor.organisation == engine.policy.veilig_thuis.id and (
        engine.show(step.case_id, actor=step.actor).vt_stage != "afgesloten"
    )
    waived = 0
    for obligation in engine.obligations(step.case_id, actor=step.actor, overdue=True):
        if closing_vt and obligation.responsible != step.actor.organisation:
            continue
        waiver = step.actor if obligation.responsible == step.actor.organisation else vt
        if obligation.kind == "handover_response":  # a handover is withdrawn, never waived
            _withdraw(engine, step, obligation.ref)
            continue
        if obligation.kind in NOT_WAIVED:
            continue
        engine.waive_obligation(
            step.case_id, actor=waiver, obligation_id=obligation.id, reason=step.waive
        )
        waived += 1
    return waived


def _withdraw(engine: Engine, step: Step, handover_id: str) -> None:
    """The handover's sender withdraws it, with the step's reason."""
    view = engine.show(step.case_id, actor=step.actor)
    sender = next(h.from_organisation for h in view.handovers if h.handover_id == handover_id)
    actor = Actor.parse(f"u-sim@{sender}:professional")
    engine.withdraw_handover(step.case_id, actor=actor, handover_id=handover_id, reason=step.waive)


def _sweeps(start: datetime, end: datetime, actor: Actor) -> Iterator[Step]:
    """The daily deadline sweep, as the flows run it (a step without command or case).

    It sweeps this run's households only: other runs may share the database, each on a
    simulated timeline of its own, and must not have their deadlines judged on this one's.
    """
    day = start.replace(hour=_SWEEP_HOUR, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while day < end:
        yield Step(day, actor)
        day += timedelta(days=1)


def _run(engine: Engine, jobs: Jobs, step: Step, report: SimulationReport, own: list[str]) -> bool:
    """Carry out one step; False when it was refused (the household's walk ends)."""
    try:
        if step.search is not None:
            name, born = step.search
            engine.find_known_household(actor=step.actor, name=name, date_of_birth=born)
            report.searches += 1
        elif not step.case_id:
            swept = jobs.escalate(own)
            report.sweeps += 1
            report.escalated += len(swept.escalated)
            report.expired += len(swept.expired)
        elif step.waive:
            report.waived += _waive_open(engine, step)
        elif step.handover:
            engine.handover(step.case_id, step.handover, actor=step.actor)
            report.reads += 1
        elif step.command is None:
            engine.show(step.case_id, actor=step.actor)
            report.reads += 1
        else:
            engine.handle(step.command, actor=step.actor)
            report.commands += 1
    except PhasedCareError as exc:
        report.refused[f"{_what(step)}: {getattr(exc, 'rule', None) or type(exc).__name__}"] += 1
        return False
    return True


def _what(step: Step) -> str:
    """What a step did, for the refusal counts: the command (and event), or a read by whom."""
    if isinstance(step.command, cmd.FireEvent):
        return f"FireEvent {step.command.event}"
    if step.command is not None:
        return type(step.command).__name__
    return f"read by {step.actor.organisation}"


class _Queue:
    """The walks' next steps, merged in time order."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, int, Step]] = []
        self._walks: dict[int, Iterator[Step]] = {}
        self._order = count()

    def add(self, walk: Iterator[Step], number: int) -> None:
        self._walks[number] = walk
        self._push(number)

    def drop(self, number: int) -> None:
        self._walks.pop(number, None)

    def _push(self, number: int) -> None:
        walk = self._walks.get(number)
        if walk is None:
            return
        step = next(walk, None)
        if step is None:
            del self._walks[number]
            return
        heapq.heappush(self._heap, (step.at.astimezone(UTC), next(self._order), number, step))

    def until(self, end: datetime) -> Iterator[tuple[int, Step]]:
        """Steps in time order up to ``end``; what would come later is never done."""
        while self._heap:
            at, _, number, step = heapq.heappop(self._heap)
            if at > end:
                return
            yield number, step
            self._push(number)
