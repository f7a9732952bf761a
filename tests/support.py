"""Test support: a synthetic household taken step by step through its journey."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.errors import NotAuthorised
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock

__all__ = ["CANARY_NAMES", "Journey", "token_table"]

TAXATIE = {"acute_onveiligheid": False, "structurele_onveiligheid": True}
"""A veiligheidstaxatie (structurally, not acutely unsafe) for the Veilig Thuis decisions that
conclude a veiligheidsbeoordeling: they must record one."""

ONDERZOEK: dict[str, Any] = {"onderzoek_ground": "ontkenning_of_weigering", **TAXATIE}
"""What besluit_onderzoek after a veiligheidsbeoordeling gives: its ground and the taxatie."""

MOTIVATED: dict[str, Any] = {"reason": "no violence found (synthetic)", **TAXATIE}
"""What einde bemoeienis or omzetten naar advies after a veiligheidsbeoordeling gives."""

CANARY_NAMES = ("Zorro Kanariepiet", "Xaviera Canarywood", "Quintus Testvogel")
"""Synthetic names that must never show up outside sealed events and memory."""


def token_table(tokens: Mapping[str, Actor]) -> Callable[[str], Actor]:
    """An ``authenticate`` for ``create_app``: each known bearer token is its actor, any other
    identifies nobody."""

    def authenticate(token: str) -> Actor:
        if token not in tokens:
            raise NotAuthorised("the token identifies nobody", actor="-")
        return tokens[token]

    return authenticate


def handover(case_id: str, to_organisation: str, **overrides: Any) -> cmd.ProposeHandover:
    """A complete handover proposal (conditions c1, c2) with ``overrides`` applied."""
    fields: dict[str, Any] = {
        "case_id": case_id,
        "to_organisation": to_organisation,
        "safety_conditions": ["c1"],
        "monitoring_agreement": "Veilig Thuis checks the conditions at 3 and 12 months.",
        "risk_summary": "verhoogd risico",
        "legal_basis": "art. 5.2.6 Wmo 2015",
        "household_informed": True,
    }
    fields.update(overrides)
    return cmd.ProposeHandover(**fields)


_WAIVED_IN_STORIES = "the story skips plan reviews and condition checks on purpose"


class Journey:
    """One synthetic case, moved by the methods below; each returns self to chain."""

    def __init__(self, engine: Engine, clock: ManualClock, vt: Actor, wijkteam: Actor) -> None:
        self.engine, self.clock, self.vt, self.wijkteam = engine, clock, vt, wijkteam
        self.case_id = ""

    @property
    def regiehouder(self) -> Actor:
        """The actor of the organisation holding regie now."""
        regie = self.engine.show(self.case_id, actor=self.vt).regie.organisation
        return self.wijkteam if regie == self.wijkteam.organisation else self.vt

    def opened(self, *, via: str = "melding", melder: str | None = None) -> Journey:
        """A case opened by Veilig Thuis; a ``melder`` organisation has a part in it."""
        melder_given = {"melder_organisation": melder} if melder else {}
        self.case_id = self.engine.open_case(
            actor=self.vt, via=via, summary="A synthetic melding", **melder_given
        ).case_id
        return self

    def with_members(self) -> Journey:
        """A victim, a pleger and a child recorded."""
        for role, name in (
            ("slachtoffer", "Anna Voorbeeld"),
            ("pleger", "Bram Voorbeeld"),
            ("kind", "Cato Voorbeeld"),
        ):
            self.engine.record_member(self.case_id, actor=self.vt, role=role, name=name)
        return self

    def assessing(self) -> Journey:
        """The veiligheidsbeoordeling has started."""
        self.engine.fire(self.case_id, "start_veiligheidsbeoordeling", actor=self.vt, chart="vt")
        return self

    def with_conditions(self, count: int = 2) -> Journey:
        """Safety conditions checked by the wijkteam."""
        for number in range(count):
            self.engine.add_safety_condition(
                self.case_id,
                actor=self.vt,
                statement=f"Synthetic condition {number + 1}",
                owner=self.wijkteam.organisation,
                check_every_days=14,
            )
        return self

    def with_risk(self) -> Journey:
        """A risk assessment recorded."""
        self.engine.record_risk_assessment(
            self.case_id,
            actor=self.vt,
            instrument="VT-triage",
            instrument_version="2023",
            level="hoog",
            assessed_on=self.clock.today,
        )
        return self

    def with_plan(self) -> Journey:
        """An agreed safety plan."""
        self.engine.agree_safety_plan(
            self.case_id, actor=self.regiehouder, agreed_on=self.clock.today
        )
        return self

    def in_directe_veiligheid(self) -> Journey:
        """Opened, members, assessing, conditions, risk, in directe veiligheid."""
        self.opened().with_members().assessing().with_conditions().with_risk()
        self.engine.fire(self.case_id, "start_directe_veiligheid", actor=self.vt)
        return self

    def handed_over(self) -> Journey:
        """Regie handed from Veilig Thuis to the wijkteam (proposed and accepted)."""
        proposed = self.engine.handle(
            handover(self.case_id, self.wijkteam.organisation), actor=self.regiehouder
        )
        assert proposed.created_id is not None
        self.engine.handle(
            cmd.AcceptHandover(
                case_id=self.case_id,
                handover_id=proposed.created_id,
                casusregisseur=self.wijkteam.user,
            ),
            actor=self.wijkteam,
        )
        return self

    def in_monitoring(self) -> Journey:
        """S3: handed over to the wijkteam after an overdracht; Veilig Thuis monitors."""
        self.in_directe_veiligheid().with_plan()
        self.engine.fire(self.case_id, "besluit_overdracht", actor=self.vt, chart="vt", **TAXATIE)
        self.handed_over()
        self.engine.fire(self.case_id, "start_monitoring", actor=self.vt, chart="vt")
        return self

    def conditions_met(self) -> Journey:
        """Every safety condition checked and met today."""
        view = self.engine.show(self.case_id, actor=self.vt)
        for condition in view.conditions:
            self.engine.record_condition_status(
                self.case_id,
                actor=self.vt,
                condition_id=condition.condition_id,
                status="met",
                observed_on=self.clock.today,
            )
        return self

    def in_stabiele_veiligheid(self) -> Journey:
        """Past directe veiligheid with a plan, conditions met, regie at the wijkteam."""
        self.in_directe_veiligheid().with_plan().handed_over().conditions_met()
        self.engine.fire(self.case_id, "naar_stabiele_veiligheid", actor=self.wijkteam)
        return self

    def in_herstel(self) -> Journey:
        """Stable safety lasted 100 days; in herstel."""
        self.in_stabiele_veiligheid()
        self.clock.advance(days=100)
        self.conditions_met()
        self.engine.fire(self.case_id, "naar_herstel", actor=self.wijkteam)
        return self

    def monitoring_check(self) -> Journey:
        """Veilig Thuis records a safe monitoring check today."""
        self.engine.record_monitoring_check(
            self.case_id, actor=self.vt, checked_on=self.clock.today, outcome="veilig"
        )
        return self

    def monitored_a_year(self) -> Journey:
        """A year and five days of monitoring, with a safe check at 3 and at 12 months."""
        self.clock.advance(days=92)
        self.monitoring_check()
        self.clock.advance(days=278)
        return self.monitoring_check()

    def waived_open_obligations(self, reason: str) -> Journey:
        """Veilig Thuis waives every obligation still open, each with ``reason``."""
        for obligation in self.engine.obligations(self.case_id, actor=self.vt):
            if obligation.status in ("open", "escalated"):
                self.engine.waive_obligation(
                    self.case_id, actor=self.vt, obligation_id=obligation.id, reason=reason
                )
        return self

    def closed(self) -> Journey:
        """Veilig Thuis monitoring finished (checks at 3 and 12 months) and the case closed."""
        self.in_herstel()
        self.engine.fire(self.case_id, "besluit_overdracht", actor=self.vt, chart="vt", **TAXATIE)
        self.engine.fire(self.case_id, "start_monitoring", actor=self.vt, chart="vt")
        self.monitored_a_year()
        self.waived_open_obligations(_WAIVED_IN_STORIES)
        self.engine.fire(self.case_id, "vt_afsluiten", actor=self.vt, chart="vt")
        self.engine.fire(self.case_id, "afsluiten", actor=self.wijkteam)
        return self


def admin_of(actor: Actor) -> Actor:
    """The integration admin of ``actor``'s organisation: the one who manages its webhooks."""
    return Actor(
        user=f"u-int-{actor.organisation}",
        organisation=actor.organisation,
        role=Role.integration_admin,
    )
