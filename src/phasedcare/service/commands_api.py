"""The Python API's command methods: one keyword-only method per command.

Each builds and validates its command (a validation error becomes one InvalidInput) and hands
it to :meth:`Engine.handle`, where it is authorised, decided and appended.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date, datetime

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor
from phasedcare.service.validation import make_command
from phasedcare.service.views import CommandResult

__all__ = ["CommandMethods"]


class CommandMethods(ABC):
    """Mixed into the Engine, whose ``handle`` does the work."""

    @abstractmethod
    def handle(self, command: cmd.Command, *, actor: Actor) -> CommandResult:
        """Authorise, decide and append one command."""

    def open_case(
        self,
        *,
        actor: Actor,
        via: str,
        melder_kind: str = "professional",
        acute: bool = False,
        summary: str = "",
        melder_organisation: str = "",
        case_id: str | None = None,
        received_at: datetime | None = None,
    ) -> CommandResult:
        """Open a case from a melding or an advies (Veilig Thuis only); ``received_at`` is when
        Veilig Thuis received it (aware; default now), from which its deadlines count."""
        command = make_command(
            cmd.OpenCase,
            via=via,
            melder_kind=melder_kind,
            acute=acute,
            summary=summary,
            melder_organisation=melder_organisation,
            case_id=case_id,
            received_at=received_at,
        )
        return self.handle(command, actor=actor)

    def record_member(
        self, case_id: str, *, actor: Actor, role: str, name: str, date_of_birth: date | None = None
    ) -> CommandResult:
        """Record a household member (slachtoffer, pleger, kind, overige_betrokkene)."""
        command = make_command(
            cmd.RecordMember, case_id=case_id, role=role, name=name, date_of_birth=date_of_birth
        )
        return self.handle(command, actor=actor)

    def fire(
        self,
        case_id: str,
        event: str,
        *,
        actor: Actor,
        chart: str = "phase",
        reason: str = "",
        acute_onveiligheid: bool | None = None,
        structurele_onveiligheid: bool | None = None,
        onderzoek_ground: str | None = None,
    ) -> CommandResult:
        """Fire an event of the phase chart (``phase``) or the Veilig Thuis chart (``vt``).

        A Veilig Thuis decision that concludes the veiligheidsbeoordeling gives the
        veiligheidstaxatie (``acute_onveiligheid``, ``structurele_onveiligheid``);
        ``besluit_onderzoek`` gives its Handelingsprotocol ground (``onderzoek_ground``).
        """
        command = make_command(
            cmd.FireEvent,
            case_id=case_id,
            chart=chart,
            event=event,
            reason=reason,
            acute_onveiligheid=acute_onveiligheid,
            structurele_onveiligheid=structurele_onveiligheid,
            onderzoek_ground=onderzoek_ground,
        )
        return self.handle(command, actor=actor)

    def agree_safety_plan(
        self,
        case_id: str,
        *,
        actor: Actor,
        agreed_on: date,
        summary: str = "",
        agreed_with_household: bool = True,
    ) -> CommandResult:
        """Record an agreed (new version of the) safety plan."""
        command = make_command(
            cmd.AgreeSafetyPlan,
            case_id=case_id,
            agreed_on=agreed_on,
            summary=summary,
            agreed_with_household=agreed_with_household,
        )
        return self.handle(command, actor=actor)

    def add_safety_condition(
        self,
        case_id: str,
        *,
        actor: Actor,
        statement: str,
        owner: str,
        check_every_days: int,
        check_method: str = "",
    ) -> CommandResult:
        """Add a safety condition, checked by ``owner`` every ``check_every_days`` days."""
        command = make_command(
            cmd.AddSafetyCondition,
            case_id=case_id,
            statement=statement,
            owner=owner,
            check_every_days=check_every_days,
            check_method=check_method,
        )
        return self.handle(command, actor=actor)

    def record_condition_status(
        self,
        case_id: str,
        *,
        actor: Actor,
        condition_id: str,
        status: str,
        observed_on: date,
        evidence: str = "",
    ) -> CommandResult:
        """Record a check of a safety condition; a breach fires terugval past directe veiligheid."""
        command = make_command(
            cmd.RecordConditionStatus,
            case_id=case_id,
            condition_id=condition_id,
            status=status,
            observed_on=observed_on,
            evidence=evidence,
        )
        return self.handle(command, actor=actor)

    def record_risk_assessment(
        self,
        case_id: str,
        *,
        actor: Actor,
        instrument: str,
        instrument_version: str,
        level: str,
        assessed_on: date,
        items: dict[str, str] | None = None,
        assessment_id: str | None = None,
    ) -> CommandResult:
        """Record a risk assessment, or a new version of ``assessment_id``."""
        command = make_command(
            cmd.RecordRiskAssessment,
            case_id=case_id,
            instrument=instrument,
            instrument_version=instrument_version,
            level=level,
            assessed_on=assessed_on,
            items=items or {},
            assessment_id=assessment_id,
        )
        return self.handle(command, actor=actor)

    def record_incident(
        self, case_id: str, *, actor: Actor, occurred_on: date, description: str = ""
    ) -> CommandResult:
        """Record a new incident; past directe veiligheid it fires terugval."""
        command = make_command(
            cmd.RecordIncident, case_id=case_id, occurred_on=occurred_on, description=description
        )
        return self.handle(command, actor=actor)

    def propose_handover(
        self,
        case_id: str,
        *,
        actor: Actor,
        to_organisation: str,
        safety_conditions: list[str],
        monitoring_agreement: str,
        risk_summary: str,
        legal_basis: str,
        household_informed: bool,
        household_not_informed_reason: str = "",
        respond_by: date | None = None,
        note: str = "",
    ) -> CommandResult:
        """Propose handing regie to ``to_organisation`` with the payload it will see.

        To the MDA++ team it is opschalen (its triage; the entry criteria must be met); from
        the MDA++ team to a lokaal team it is afschalen (stable safety long enough).
        """
        command = make_command(
            cmd.ProposeHandover,
            case_id=case_id,
            to_organisation=to_organisation,
            safety_conditions=safety_conditions,
            monitoring_agreement=monitoring_agreement,
            risk_summary=risk_summary,
            legal_basis=legal_basis,
            household_informed=household_informed,
            household_not_informed_reason=household_not_informed_reason,
            respond_by=respond_by,
            note=note,
        )
        return self.handle(command, actor=actor)

    def accept_handover(
        self, case_id: str, *, actor: Actor, handover_id: str, casusregisseur: str
    ) -> CommandResult:
        """Accept a handover proposed to the actor's organisation: regie moves now."""
        command = make_command(
            cmd.AcceptHandover,
            case_id=case_id,
            handover_id=handover_id,
            casusregisseur=casusregisseur,
        )
        return self.handle(command, actor=actor)

    def reject_handover(
        self, case_id: str, *, actor: Actor, handover_id: str, reason: str
    ) -> CommandResult:
        """Reject a handover with a reason; the sender keeps regie."""
        command = make_command(
            cmd.RejectHandover, case_id=case_id, handover_id=handover_id, reason=reason
        )
        return self.handle(command, actor=actor)

    def withdraw_handover(
        self, case_id: str, *, actor: Actor, handover_id: str, reason: str = ""
    ) -> CommandResult:
        """Withdraw an open or escalated handover; the sender keeps regie."""
        command = make_command(
            cmd.WithdrawHandover, case_id=case_id, handover_id=handover_id, reason=reason
        )
        return self.handle(command, actor=actor)

    def record_melding(
        self,
        case_id: str,
        *,
        actor: Actor,
        melder_kind: str = "professional",
        melder_organisation: str = "",
        acute: bool = False,
        summary: str = "",
        received_at: datetime | None = None,
    ) -> CommandResult:
        """Record a new melding about this known household (vervolgmelding or hermelding);
        ``received_at`` is when Veilig Thuis received it (aware; default now)."""
        command = make_command(
            cmd.RecordMelding,
            case_id=case_id,
            melder_kind=melder_kind,
            melder_organisation=melder_organisation,
            acute=acute,
            summary=summary,
            received_at=received_at,
        )
        return self.handle(command, actor=actor)

    def conclude_veiligheidsbeoordeling(
        self,
        case_id: str,
        *,
        actor: Actor,
        melding_id: str,
        acute_onveiligheid: bool,
        structurele_onveiligheid: bool,
        follow_up: str,
        reason: str = "",
        scale_up: str | None = None,
        onderzoek_ground: str | None = None,
    ) -> CommandResult:
        """Conclude a vervolgmelding's own veiligheidsbeoordeling (taxatie and follow-up);
        ``scale_up`` names the chart decision when Veilig Thuis scales up for it."""
        command = make_command(
            cmd.ConcludeVeiligheidsbeoordeling,
            case_id=case_id,
            melding_id=melding_id,
            acute_onveiligheid=acute_onveiligheid,
            structurele_onveiligheid=structurele_onveiligheid,
            follow_up=follow_up,
            reason=reason,
            scale_up=scale_up,
            onderzoek_ground=onderzoek_ground,
        )
        return self.handle(command, actor=actor)

    def record_monitoring_check(
        self, case_id: str, *, actor: Actor, checked_on: date, outcome: str, note: str = ""
    ) -> CommandResult:
        """Record a monitoring moment (veilig or onveilig; onveilig fires terugval)."""
        command = make_command(
            cmd.RecordMonitoringCheck,
            case_id=case_id,
            checked_on=checked_on,
            outcome=outcome,
            note=note,
        )
        return self.handle(command, actor=actor)

    def organise_zicht(
        self,
        case_id: str,
        *,
        actor: Actor,
        melding_id: str,
        kept_by: str,
        means: str,
        until: date,
        note: str = "",
    ) -> CommandResult:
        """Record who keeps zicht op veiligheid, how and until when, while a melding waits for
        its veiligheidsbeoordeling (Veilig Thuis; at most 28 days ahead)."""
        command = make_command(
            cmd.OrganiseZicht,
            case_id=case_id,
            melding_id=melding_id,
            kept_by=kept_by,
            means=means,
            until=until,
            note=note,
        )
        return self.handle(command, actor=actor)

    def waive_obligation(
        self, case_id: str, *, actor: Actor, obligation_id: str, reason: str
    ) -> CommandResult:
        """Make one open obligation moot with a reason (its responsible organisation or
        Veilig Thuis); a closure refused for open obligations needs this for each."""
        command = make_command(
            cmd.WaiveObligation, case_id=case_id, obligation_id=obligation_id, reason=reason
        )
        return self.handle(command, actor=actor)

    def impose_huisverbod(
        self, case_id: str, *, actor: Actor, imposed_on: date, against: str
    ) -> CommandResult:
        """Record a tijdelijk huisverbod imposed on the adult member ``against``; help must
        start within the policy's days; past directe veiligheid it is a terugval."""
        command = make_command(
            cmd.ImposeHuisverbod, case_id=case_id, imposed_on=imposed_on, against=against
        )
        return self.handle(command, actor=actor)

    def extend_huisverbod(self, case_id: str, *, actor: Actor, ends_on: date) -> CommandResult:
        """Extend the tijdelijk huisverbod (at most the policy's maximum days)."""
        command = make_command(cmd.ExtendHuisverbod, case_id=case_id, ends_on=ends_on)
        return self.handle(command, actor=actor)

    def record_huisverbod_help(
        self, case_id: str, *, actor: Actor, started_on: date
    ) -> CommandResult:
        """Record that help started during the tijdelijk huisverbod."""
        command = make_command(cmd.RecordHuisverbodHelp, case_id=case_id, started_on=started_on)
        return self.handle(command, actor=actor)

    def assess_mda_criteria(
        self, case_id: str, *, actor: Actor, met: list[str], note: str = ""
    ) -> CommandResult:
        """Record which MDA++ entry criteria a professional judges met."""
        command = make_command(cmd.AssessMdaCriteria, case_id=case_id, met=met, note=note)
        return self.handle(command, actor=actor)

    def grant_share(
        self,
        case_id: str,
        *,
        actor: Actor,
        to_organisation: str,
        legal_basis: str,
        expires_on: date,
    ) -> CommandResult:
        """Let another organisation read the case on a legal basis until ``expires_on``."""
        command = make_command(
            cmd.GrantShare,
            case_id=case_id,
            to_organisation=to_organisation,
            legal_basis=legal_basis,
            expires_on=expires_on,
        )
        return self.handle(command, actor=actor)

    def revoke_share(self, case_id: str, *, actor: Actor, share_id: str) -> CommandResult:
        """End a share before it expires."""
        command = make_command(cmd.RevokeShare, case_id=case_id, share_id=share_id)
        return self.handle(command, actor=actor)

    def review_break_glass(
        self, case_id: str, *, actor: Actor, review_id: str, outcome: str, note: str = ""
    ) -> CommandResult:
        """Judge a break-glass use justified or unjustified (Veilig Thuis), closing its review."""
        command = make_command(
            cmd.ReviewBreakGlass, case_id=case_id, review_id=review_id, outcome=outcome, note=note
        )
        return self.handle(command, actor=actor)
