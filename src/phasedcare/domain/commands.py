"""Commands: what a professional asks the engine to do, validated at the boundary.

Commands are imperative and carry no actor or time: the service adds those when it handles
them. Every field is validated here, so a malformed command never reaches the domain. Integers
and booleans are strict: ``true`` is no number of days and ``14.0`` or ``1`` no answer to a
yes/no question.
"""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from phasedcare.domain.household import MemberRole, SpecificGroup
from phasedcare.domain.safety import ConditionStatus, RiskLevel
from phasedcare.domain.vt_outcome import FollowUp, OnderzoekGround, ZichtMeans

__all__ = [
    "COMMAND_TYPES",
    "ID_PATTERN",
    "AcceptHandover",
    "AddSafetyCondition",
    "AgreeSafetyPlan",
    "AssessMdaCriteria",
    "AssignCasusregisseur",
    "CaseCommand",
    "Command",
    "ConcludeVeiligheidsbeoordeling",
    "EndSpecificGroup",
    "EscalateDeadline",
    "ExpireHandover",
    "ExtendHuisverbod",
    "FireEvent",
    "FlagSpecificGroup",
    "GrantShare",
    "ImposeHuisverbod",
    "OpenCase",
    "OrganiseZicht",
    "PlaceLegalHold",
    "ProposeHandover",
    "RecordConditionStatus",
    "RecordHuisverbodHelp",
    "RecordIncident",
    "RecordMelding",
    "RecordMember",
    "RecordMonitoringCheck",
    "RecordRiskAssessment",
    "RejectHandover",
    "ReleaseLegalHold",
    "ReviewBreakGlass",
    "RevokeShare",
    "SignalMda",
    "WaiveObligation",
    "WithdrawHandover",
]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""The shape of every id a caller names (cases, handovers, shares, organisations): no ``~``,
so no caller can name an access stream (``c-x~access``, ``~caseload~access``)."""
_OPTIONAL_ID = r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$"
_RECEIVED_AT = (
    "When Veilig Thuis received the melding, with its UTC offset; its deadlines count from "
    "it. Not in the future nor more than a year back; default: now."
)


class Command(BaseModel):
    """Base of every command: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CaseCommand(Command):
    """A command about an existing case."""

    case_id: str = Field(pattern=ID_PATTERN)


class OpenCase(Command):
    """Open a household's case from a melding or an advies received by Veilig Thuis."""

    via: str = Field(pattern="^(melding|advies)$")
    melder_kind: str = Field(
        default="professional", pattern="^(politie|professional|burger|anoniem)$"
    )
    acute: bool = Field(default=False, strict=True)
    summary: str = Field(default="", max_length=10_000)
    melder_organisation: str = Field(
        default="",
        pattern=_OPTIONAL_ID,
        description="A professional melder's organisation id: it gets the feedback.",
    )
    case_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="Chosen by the engine when absent."
    )
    received_at: AwareDatetime | None = Field(default=None, description=_RECEIVED_AT)


class RecordMember(CaseCommand):
    """Record a person as a member of the household."""

    role: MemberRole
    name: str = Field(min_length=1, max_length=200)
    date_of_birth: date | None = None


class FlagSpecificGroup(CaseCommand):
    """Flag the case for a specific group (intieme terreur, eergerelateerd geweld, ...)."""

    flag: SpecificGroup


class EndSpecificGroup(CaseCommand):
    """End a specific-group flag that no longer applies, with the reason (the flag's history
    stays in the ledger)."""

    flag: SpecificGroup
    reason: str = Field(min_length=1, max_length=2000)


class FireEvent(CaseCommand):
    """Fire an event of the phase chart (``phase``) or the Veilig Thuis chart (``vt``).

    A Veilig Thuis decision that concludes the veiligheidsbeoordeling gives the
    veiligheidstaxatie (``acute_onveiligheid``, ``structurele_onveiligheid``); an onderzoek
    gives its ground.
    """

    chart: str = Field(pattern="^(phase|vt)$")
    event: str = Field(min_length=1, max_length=60)
    reason: str = Field(default="", max_length=2000)
    acute_onveiligheid: bool | None = Field(
        default=None,
        strict=True,
        description="Veiligheidstaxatie: is the household acutely unsafe? (VT decisions only)",
    )
    structurele_onveiligheid: bool | None = Field(
        default=None,
        strict=True,
        description="Veiligheidstaxatie: is the household structurally unsafe? (VT decisions only)",
    )
    onderzoek_ground: OnderzoekGround | None = Field(
        default=None, description="The Handelingsprotocol ground of besluit_onderzoek."
    )


class AgreeSafetyPlan(CaseCommand):
    """Record that a (new version of the) safety plan was agreed."""

    agreed_on: date
    summary: str = Field(default="", max_length=5000)
    agreed_with_household: bool = Field(default=True, strict=True)


class AddSafetyCondition(CaseCommand):
    """Add a safety condition (veiligheidsvoorwaarde) and who checks it how often."""

    statement: str = Field(min_length=1, max_length=2000)
    owner: str = Field(pattern=ID_PATTERN, description="The organisation that checks it.")
    check_every_days: int = Field(gt=0, le=366, strict=True)
    check_method: str = Field(default="", max_length=500)


class RecordConditionStatus(CaseCommand):
    """Record the outcome of a check of a safety condition; a breach fires terugval."""

    condition_id: str = Field(pattern=ID_PATTERN)
    status: ConditionStatus
    observed_on: date
    evidence: str = Field(default="", max_length=5000)


class RecordRiskAssessment(CaseCommand):
    """Record a risk assessment, or a new version of one when ``assessment_id`` is given."""

    instrument: str = Field(min_length=1, max_length=60)
    instrument_version: str = Field(min_length=1, max_length=30)
    level: RiskLevel
    assessed_on: date
    items: dict[str, str] = Field(default_factory=dict, max_length=200)
    assessment_id: str | None = Field(default=None, pattern=ID_PATTERN)


class RecordIncident(CaseCommand):
    """Record a new incident; past directe veiligheid it fires terugval."""

    occurred_on: date
    description: str = Field(default="", max_length=10_000)


class AssignCasusregisseur(CaseCommand):
    """Within the organisation holding regie, hand the case to another casusregisseur."""

    casusregisseur: str = Field(pattern=ID_PATTERN)


class ProposeHandover(CaseCommand):
    """Propose to hand regie to another organisation; the sender keeps it until acceptance.

    The payload is required: the safety conditions handed over, the monitoring agreement, a
    risk summary, the legal basis for sharing and whether the household was informed (and
    why not, when it was not). The receiver sees this payload and nothing else of the case.
    A proposal to the MDA++ team is a proposal to its triage and gets a plan van aanpak
    skeleton; a proposal from the MDA++ team to a lokaal team is afschalen.
    """

    to_organisation: str = Field(pattern=ID_PATTERN)
    safety_conditions: list[str] = Field(
        min_length=1, max_length=100, description="Ids of the safety conditions handed over."
    )
    monitoring_agreement: str = Field(min_length=1, max_length=2000)
    risk_summary: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(
        min_length=1, max_length=500, description="e.g. art. 5.2.6 Wmo 2015, or consent."
    )
    household_informed: bool = Field(strict=True)
    household_not_informed_reason: str = Field(default="", max_length=2000)
    respond_by: date | None = Field(
        default=None, description="Default: handover_response_werkdagen from the policy."
    )
    note: str = Field(default="", max_length=5000)

    @model_validator(mode="after")
    def _reason_when_not_informed(self) -> Self:
        if not self.household_informed and not self.household_not_informed_reason.strip():
            msg = "household_not_informed_reason is required when the household was not informed"
            raise ValueError(msg)
        return self


class AcceptHandover(CaseCommand):
    """Accept a handover: regie moves to the receiver with this command."""

    handover_id: str = Field(pattern=ID_PATTERN)
    casusregisseur: str = Field(pattern=ID_PATTERN)


class RejectHandover(CaseCommand):
    """Reject a handover with a reason; regie stays with the sender."""

    handover_id: str = Field(pattern=ID_PATTERN)
    reason: str = Field(min_length=1, max_length=2000)


class WithdrawHandover(CaseCommand):
    """Withdraw an open handover; regie stays with the sender."""

    handover_id: str = Field(pattern=ID_PATTERN)
    reason: str = Field(default="", max_length=2000)


class ExpireHandover(CaseCommand):
    """Expire a handover left unanswered past its response date, and escalate it (sweeps)."""

    handover_id: str = Field(pattern=ID_PATTERN)


class EscalateDeadline(CaseCommand):
    """Escalate one overdue deadline to the responsible organisation and the region (sweeps)."""

    kind: str = Field(pattern=ID_PATTERN)
    ref: str = Field(pattern=ID_PATTERN)


class RecordMelding(CaseCommand):
    """Record a new melding about this known household (Veilig Thuis).

    It is classified as vervolgmelding or hermelding; past directe veiligheid it fires
    terugval, and a hermelding starts a new veiligheidsbeoordeling.
    """

    melder_kind: str = Field(
        default="professional", pattern="^(politie|professional|burger|anoniem)$"
    )
    melder_organisation: str = Field(default="", pattern=_OPTIONAL_ID)
    acute: bool = Field(default=False, strict=True)
    summary: str = Field(default="", max_length=10_000)
    received_at: AwareDatetime | None = Field(default=None, description=_RECEIVED_AT)


class ConcludeVeiligheidsbeoordeling(CaseCommand):
    """Conclude the veiligheidsbeoordeling of a vervolgmelding (Veilig Thuis), on its own.

    It records the veiligheidstaxatie and the follow-up, and leaves the Veilig Thuis track
    where it is: a running onderzoek or voorwaarden en vervolg takes the melding in. From
    overdracht or monitoring, follow-up ``vervolgstappen_bij_veilig_thuis`` scales up with
    ``scale_up`` (``besluit_onderzoek`` with its ground, ``besluit_voorwaarden_en_vervolg``
    or ``besluit_verzoek_rvdk``). ``geen_vervolgstappen`` and ``omzetten_naar_advies`` need
    a motivation, as does scaling up.
    """

    melding_id: str = Field(pattern="^m[0-9]{1,6}$", description="The melding: m2, m3, ...")
    acute_onveiligheid: bool = Field(strict=True)
    structurele_onveiligheid: bool = Field(strict=True)
    follow_up: FollowUp
    reason: str = Field(default="", max_length=5000)
    scale_up: str | None = Field(
        default=None,
        pattern="^(besluit_onderzoek|besluit_voorwaarden_en_vervolg|besluit_verzoek_rvdk)$",
    )
    onderzoek_ground: OnderzoekGround | None = None


class OrganiseZicht(CaseCommand):
    """Record how zicht op veiligheid is kept while a melding waits for its
    veiligheidsbeoordeling (Veilig Thuis): by which organisation, how, and until when (at
    most 28 days ahead; arrange it again when it ends)."""

    melding_id: str = Field(pattern="^m[0-9]{1,6}$", description="The melding: m1, m2, ...")
    kept_by: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$",
        description="The organisation of the region that keeps an eye on the household.",
    )
    means: ZichtMeans
    until: date = Field(description="The last day the arrangement holds.")
    note: str = Field(default="", max_length=5000)


class RecordMonitoringCheck(CaseCommand):
    """Record a monitoring moment after the handover; an unsafe outcome fires terugval."""

    checked_on: date
    outcome: str = Field(pattern="^(veilig|onveilig)$")
    note: str = Field(default="", max_length=5000)


class ImposeHuisverbod(CaseCommand):
    """Record a tijdelijk huisverbod the burgemeester imposed on an adult member of the
    household (Wth art. 2): an incident, so past directe veiligheid it is a terugval."""

    imposed_on: date
    against: str = Field(
        pattern="^m[0-9]{1,6}$", description="The member it is imposed on (m1, m2, ...): an adult."
    )


class ExtendHuisverbod(CaseCommand):
    """Record the extension of the tijdelijk huisverbod, up to the policy's maximum."""

    ends_on: date


class RecordHuisverbodHelp(CaseCommand):
    """Record that help started during the tijdelijk huisverbod."""

    started_on: date


class AssessMdaCriteria(CaseCommand):
    """Record which MDA++ entry criteria a professional judges met."""

    met: list[str] = Field(max_length=50)
    note: str = Field(default="", max_length=5000)


class WaiveObligation(CaseCommand):
    """Make one open obligation moot, with the reason it no longer applies (the responsible
    organisation or Veilig Thuis); a closure refused for open obligations needs one each."""

    obligation_id: str = Field(
        pattern=r"^[a-z_]{1,40}:[A-Za-z0-9][A-Za-z0-9._:-]{0,80}$",
        description="The obligation: kind:ref, as listed (e.g. monitoring:m3).",
    )
    reason: str = Field(min_length=1, max_length=2000)


class SignalMda(CaseCommand):
    """Record that the MDA++ entry criteria are met, so the regiehouder is told (sweeps)."""


class PlaceLegalHold(CaseCommand):
    """Keep the case past its retention period (a court, a complaint, an inquiry)."""

    reason: str = Field(min_length=1, max_length=2000)


class ReleaseLegalHold(CaseCommand):
    """Release a legal hold; retention applies again."""

    reason: str = Field(min_length=1, max_length=2000)


class GrantShare(CaseCommand):
    """Let another organisation of the region read the case, on a legal basis, until a date.

    The organisation holding regie or Veilig Thuis grants it; this is how the police or the
    Raad voor de Kinderbescherming read a case. The share ends after ``expires_on``.
    """

    to_organisation: str = Field(pattern=ID_PATTERN)
    legal_basis: str = Field(
        min_length=1, max_length=500, description="e.g. art. 5.2.6 Wmo 2015, convenant, consent."
    )
    expires_on: date = Field(description="The last day the share is active (at most 366 days).")


class RevokeShare(CaseCommand):
    """End a share before it expires."""

    share_id: str = Field(pattern=ID_PATTERN)


class ReviewBreakGlass(CaseCommand):
    """Veilig Thuis judges a break-glass use justified or unjustified, closing its review."""

    review_id: str = Field(pattern=ID_PATTERN)
    outcome: str = Field(pattern="^(justified|unjustified)$")
    note: str = Field(default="", max_length=5000)


COMMAND_TYPES: tuple[type[Command], ...] = (
    OpenCase,
    RecordMember,
    FlagSpecificGroup,
    EndSpecificGroup,
    FireEvent,
    AgreeSafetyPlan,
    AddSafetyCondition,
    RecordConditionStatus,
    RecordRiskAssessment,
    RecordIncident,
    AssignCasusregisseur,
    ProposeHandover,
    AcceptHandover,
    RejectHandover,
    WithdrawHandover,
    ExpireHandover,
    EscalateDeadline,
    RecordMelding,
    ConcludeVeiligheidsbeoordeling,
    OrganiseZicht,
    RecordMonitoringCheck,
    WaiveObligation,
    ImposeHuisverbod,
    ExtendHuisverbod,
    RecordHuisverbodHelp,
    AssessMdaCriteria,
    SignalMda,
    PlaceLegalHold,
    ReleaseLegalHold,
    GrantShare,
    RevokeShare,
    ReviewBreakGlass,
)
"""Every command type, in the order the docs list them."""
