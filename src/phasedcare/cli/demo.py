"""``phasedcare demo``: a synthetic region walked through the phases with a simulated clock.

Every household is invented (the names say so). Each is taken to a different end point:
waiting for its veiligheidsbeoordeling (late, one of them with zicht op veiligheid arranged
meanwhile), in directe veiligheid, with a handover waiting for an answer, with a handover that
expired unanswered, in stabiele veiligheid after an accepted handover (regie moved), in
herstel, closed, back in directe veiligheid after a terugval, or with an acute police melding
during monitoring that nobody assessed within its hours. Then (``phasedcare demo`` does it
unless ``--no-flows``) the flows run once with embedded Prefect, as they would on their
schedules: the deadline sweep expires the unanswered handover and escalates the late
veiligheidsbeoordelingen, the acute one first. All events are appended through the engine's
own commands, so the cases can be inspected afterwards with ``phasedcare case list | show |
history``, ``phasedcare handover list``, ``phasedcare deadlines --overdue`` and
``phasedcare obligations --overdue``.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from phasedcare.bootstrap import build
from phasedcare.cli.output import console, table
from phasedcare.config import Settings
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import OrganisationKind, RegionalPolicy
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock

__all__ = ["ENDINGS", "run_demo"]

ENDINGS = {
    "aanmelding_late": 0,
    "aanmelding_late_zicht": 0,
    "directe_veiligheid": 4,
    "handover_open": 4,
    "handover_expired": 4,
    "stabiele_veiligheid": 21,
    "herstel": 121,
    "afgesloten": 391,
    "terugval": 51,
    "acute_melding": 21,
    "aanmelding": 0,
}
"""Where each demo household ends, and how many days its walk there takes."""

_ENDED_DAYS_AGO = {
    "aanmelding_late": 12,
    "aanmelding_late_zicht": 10,
    "handover_open": 1,
    "handover_expired": 15,
    "acute_melding": 2,
}
"""Walks that must end a fixed time ago: late, still open, expired, and an acute melding
past its hours."""
_FIRST = (
    "Anna",
    "Bram",
    "Cato",
    "Daan",
    "Eva",
    "Finn",
    "Guus",
    "Hanna",
    "Ilse",
    "Joris",
    "Kim",
    "Lars",
)
_CONDITIONS = (
    ("No physical violence in the home (synthetic).", 14, "home visit"),
    ("The child attends school every day (synthetic).", 7, "school contact"),
)
_LAST = ("Voorbeeld", "Proefmans", "Testhuis", "Demostra", "Fictief", "Verzinsel")


class _Household:
    """One synthetic household walked towards its ending."""

    def __init__(
        self, engine: Engine, clock: ManualClock, rng: random.Random, actors: dict[str, Actor]
    ) -> None:
        self.engine, self.clock, self.rng, self.actors = engine, clock, rng, actors
        self.case_id = ""

    def run(self, ending: str) -> str:
        vt = self.actors["vt"]
        self.case_id = self.engine.open_case(
            actor=vt,
            via="melding",
            melder_kind=self.rng.choice(["politie", "professional"]),
            summary="Synthetic melding: neighbours heard shouting (demo).",
        ).case_id
        self._members(vt)
        if ending == "aanmelding_late_zicht":
            self._zicht_while_waiting()
        if ending.startswith("aanmelding"):
            return self.case_id
        self.clock.advance(days=2)
        self.engine.fire(self.case_id, "start_veiligheidsbeoordeling", actor=vt, chart="vt")
        self._conditions_and_risk(vt)
        self.engine.fire(self.case_id, "start_directe_veiligheid", actor=vt)
        self.engine.agree_safety_plan(
            self.case_id,
            actor=vt,
            agreed_on=self.clock.today,
            summary="Synthetic safety plan (demo).",
        )
        self.engine.fire(
            self.case_id,
            "besluit_overdracht",
            actor=vt,
            chart="vt",
            acute_onveiligheid=False,
            structurele_onveiligheid=True,
        )
        if ending == "directe_veiligheid":
            return self.case_id
        if ending.startswith("handover_"):
            self._propose(vt, self.actors["wijkteam"].organisation)
            return self.case_id
        self._hand_over_to_wijkteam(vt)
        return self._towards(ending)

    def _members(self, vt: Actor) -> None:
        last = self.rng.choice(_LAST)
        child_born = date(
            2014 + self.rng.randrange(8), 1 + self.rng.randrange(12), 1 + self.rng.randrange(28)
        )
        members = (
            ("slachtoffer", date(1988, 3, 14)),
            ("pleger", date(1985, 9, 2)),
            ("kind", child_born),
        )
        for role, born in members:
            name = f"{self.rng.choice(_FIRST)} {last}"
            self.engine.record_member(
                self.case_id, actor=vt, role=role, name=name, date_of_birth=born
            )

    def _conditions_and_risk(self, vt: Actor) -> None:
        self.clock.advance(days=2)
        wijkteam = self.actors["wijkteam"].organisation
        for statement, days, method in _CONDITIONS:
            self.engine.add_safety_condition(
                self.case_id,
                actor=vt,
                statement=statement,
                owner=wijkteam,
                check_every_days=days,
                check_method=method,
            )
        self.engine.record_risk_assessment(
            self.case_id,
            actor=vt,
            instrument="VT-triage",
            instrument_version="2023",
            level=self.rng.choice(["verhoogd", "hoog"]),
            assessed_on=self.clock.today,
            items={"structurele_onveiligheid": "ja"},
        )

    def _hand_over_to_wijkteam(self, vt: Actor) -> None:
        wijkteam = self.actors["wijkteam"]
        self.clock.advance(days=1)
        proposed = self._propose(vt, wijkteam.organisation)
        self.clock.advance(days=2)
        self.engine.accept_handover(
            self.case_id, actor=wijkteam, handover_id=proposed, casusregisseur=wijkteam.user
        )
        self.engine.fire(self.case_id, "start_monitoring", actor=vt, chart="vt")

    def _propose(self, sender: Actor, to_organisation: str) -> str:
        """A warm handover proposal with its full payload; returns the handover id."""
        proposed = self.engine.propose_handover(
            self.case_id,
            actor=sender,
            to_organisation=to_organisation,
            safety_conditions=["c1", "c2"],
            monitoring_agreement="Veilig Thuis checks the conditions at 3 and 12 months (demo).",
            risk_summary="Verhoogd risico; structurele onveiligheid (demo).",
            legal_basis="art. 5.2.6 Wmo 2015",
            household_informed=True,
            note="Warm handover after veiligheidsbeoordeling (demo).",
        )
        assert proposed.created_id is not None  # noqa: S101 - a proposal always creates an id
        return proposed.created_id

    def _all_conditions(self, status: str, actor: Actor) -> None:
        for condition_id in ("c1", "c2"):
            self.engine.record_condition_status(
                self.case_id,
                actor=actor,
                condition_id=condition_id,
                status=status,
                observed_on=self.clock.today,
                evidence="Checked during a home visit (demo).",
            )

    def _monitoring_check(self) -> None:
        """Veilig Thuis's monitoring moment (3 or 12 months after the accepted handover)."""
        self.engine.record_monitoring_check(
            self.case_id,
            actor=self.actors["vt"],
            checked_on=self.clock.today,
            outcome="veilig",
            note="Called the wijkteam and the household (demo).",
        )

    def _watched(self, days: int) -> None:
        """``days`` pass while the wijkteam checks the conditions every week (c2's cadence)."""
        for _ in range(days // 7):
            self.clock.advance(days=7)
            self._all_conditions("met", self.actors["wijkteam"])
        self.clock.advance(days=days % 7)

    def _waive_overdue(self, actor: Actor) -> None:
        """Before closing, ``actor`` records why each duty it let pass no longer applies."""
        for obligation in self.engine.obligations(self.case_id, actor=actor, overdue=True):
            self.engine.waive_obligation(
                self.case_id,
                actor=actor if obligation.responsible == actor.organisation else self.actors["vt"],
                obligation_id=obligation.id,
                reason="The plan was discussed at every home visit instead (demo).",
            )

    def _zicht_while_waiting(self) -> None:
        """The veiligheidsbeoordeling will be late: Veilig Thuis arranges that the wijkteam
        keeps in contact with the family for the next three weeks."""
        self.engine.organise_zicht(
            self.case_id,
            actor=self.actors["vt"],
            melding_id="m1",
            kept_by=self.actors["wijkteam"].organisation,
            means="contact_met_gezin",
            until=self.clock.today + timedelta(days=21),
            note="The wijkcoach calls the family twice a week (demo).",
        )

    def _acute_police_melding(self) -> None:
        """During monitoring the police report acute danger; nobody assesses it in time,
        so its veiligheidsbeoordeling (due within hours) is overdue and the sweep escalates it."""
        self.engine.record_melding(
            self.case_id,
            actor=self.actors["vt"],
            melder_kind="politie",
            melder_organisation=self.actors["politie"].organisation,
            acute=True,
            summary="Synthetic police melding: acute danger reported at night (demo).",
            received_at=self.clock.now - timedelta(hours=1),
        )

    def _towards(self, ending: str) -> str:
        wijkteam = self.actors["wijkteam"]
        self.clock.advance(days=14)
        self._all_conditions("met", wijkteam)
        self.engine.fire(self.case_id, "naar_stabiele_veiligheid", actor=wijkteam)
        if ending == "stabiele_veiligheid":
            return self.case_id
        if ending == "acute_melding":
            self._acute_police_melding()
            return self.case_id
        if ending == "terugval":
            self.clock.advance(days=30)
            self.engine.record_condition_status(
                self.case_id,
                actor=wijkteam,
                condition_id="c1",
                status="breached",
                observed_on=self.clock.today,
                evidence="New incident reported by the police (demo).",
            )
            return self.case_id
        self._watched(76)
        self._monitoring_check()
        self._watched(24)
        self._all_conditions("met", wijkteam)
        self.engine.fire(self.case_id, "naar_herstel", actor=wijkteam)
        if ending == "herstel":
            return self.case_id
        self._watched(249)
        self._monitoring_check()
        self.clock.advance(days=3)
        self._all_conditions("met", wijkteam)
        self.engine.fire(self.case_id, "vt_afsluiten", actor=self.actors["vt"], chart="vt")
        self._waive_overdue(wijkteam)
        self.engine.fire(self.case_id, "afsluiten", actor=wijkteam)
        return self.case_id


def console_actors(policy: RegionalPolicy) -> list[Actor]:
    """Who ``phasedcare serve`` prints a one-time console sign-in link for: the demo's
    Veilig Thuis and wijkteam professionals, an MDA++ professional, and an auditor."""
    demo = _actors_of(policy)
    mda = [o for o in policy.organisations if o.kind is OrganisationKind.mda]
    team = [Actor(user="u-mda-demo", organisation=mda[0].id, role=Role.professional)] if mda else []
    auditor = Actor(user="u-audit-demo", organisation=demo["vt"].organisation, role=Role.auditor)
    return [demo["vt"], demo["wijkteam"], *team, auditor]


def _actors(engine: Engine) -> dict[str, Actor]:
    return _actors_of(engine.policy)


def _actors_of(policy: RegionalPolicy) -> dict[str, Actor]:
    vt = next(o for o in policy.organisations if o.kind is OrganisationKind.veilig_thuis)
    wijkteam = next(o for o in policy.organisations if o.kind is OrganisationKind.lokaal_team)
    politie = next(o for o in policy.organisations if o.id.startswith("politie"))
    return {
        "vt": Actor(user="u-vt-demo", organisation=vt.id, role=Role.professional),
        "wijkteam": Actor(user="u-wt-demo", organisation=wijkteam.id, role=Role.professional),
        "politie": Actor(user="u-po-demo", organisation=politie.id, role=Role.professional),
    }


def run_demo(settings: Settings, *, households: int, seed: int) -> list[str]:
    """Create ``households`` synthetic cases in the configured home; returns their ids."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(now)
    engine = build(settings, clock=clock, configure_logs=True)
    actors = _actors(engine)
    case_ids = []
    try:
        for number in range(households):
            ending = list(ENDINGS)[number % len(ENDINGS)]
            # Each walk ends 1-9 days ago, so some meldingen still wait in time and some are late.
            ago = _ENDED_DAYS_AGO.get(ending, 1 + number % 9)
            clock.now = now - timedelta(days=ENDINGS[ending] + ago)
            case_ids.append(_Household(engine, clock, rng, actors).run(ending))
        clock.now = now
        assert engine.auditor is not None  # noqa: S101 - bootstrap always wires one
        engine.auditor.checkpoint()
        _summary(engine, actors, case_ids, settings)
    finally:
        engine.close()
    return case_ids


def _summary(
    engine: Engine, actors: dict[str, Actor], case_ids: list[str], settings: Settings
) -> None:
    vt = actors["vt"]
    views = [engine.show(case_id, actor=vt) for case_id in case_ids]
    table(
        f"demo region {engine.policy.region}: {len(views)} synthetic households",
        ["case", "phase", "Veilig Thuis", "regie", "next deadline"],
        [
            [
                v.case_id,
                v.phase,
                v.vt_stage,
                v.regie.organisation,
                v.deadlines[0].due if v.deadlines else "-",
            ]
            for v in views
        ],
    )
    counts = Counter(v.phase for v in views)
    phases = ", ".join(f"{phase} {counts[phase]}" for phase in sorted(counts))
    console.print(f"phases: {phases}", soft_wrap=True)
    console.print(f"home: {settings.resolved_home}", soft_wrap=True)
    handovers = Counter(h.status for h in engine.handovers(actor=vt))
    console.print(
        "handovers: " + ", ".join(f"{s} {handovers[s]}" for s in sorted(handovers)),
        soft_wrap=True,
    )
    console.print(f"try: phasedcare case show {case_ids[0]} --actor {vt}", soft_wrap=True)
    console.print(f"     phasedcare deadlines --overdue --actor {vt}", soft_wrap=True)
    console.print(f"     phasedcare obligations --overdue --actor {vt}", soft_wrap=True)
