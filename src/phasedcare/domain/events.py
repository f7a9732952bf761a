"""Domain events: facts in the past tense, versioned and frozen.

Every event carries the envelope (case, time, actor, policy version) so that a replay knows
who decided what under which policy. Events are applied, never decided again.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from phasedcare.domain.actors import Actor
from phasedcare.domain.household import MemberRole, SpecificGroup
from phasedcare.domain.safety import ConditionStatus, RiskAssessment
from phasedcare.domain.vt_outcome import FollowUp, OnderzoekGround, ZichtMeans

__all__ = [
    "EVENT_TYPES",
    "AccessRecorded",
    "BreakGlassReviewed",
    "BreakGlassUsed",
    "CaseErased",
    "CaseOpened",
    "CasusregisseurAssigned",
    "DeadlineEscalated",
    "DomainEvent",
    "HandoverAccepted",
    "HandoverEscalated",
    "HandoverExpired",
    "HandoverProposed",
    "HandoverRejected",
    "HandoverWithdrawn",
    "HuisverbodExtended",
    "HuisverbodHelpStarted",
    "HuisverbodImposed",
    "IncidentRecorded",
    "LegalHoldPlaced",
    "LegalHoldReleased",
    "MdaCriteriaAssessed",
    "MdaSignalled",
    "MeldingReceived",
    "MemberRecorded",
    "MonitoringCheckRecorded",
    "ObligationWaived",
    "PhaseTransitioned",
    "PlanVanAanpak",
    "RegieReturned",
    "RiskAssessmentRecorded",
    "SafetyConditionAdded",
    "SafetyConditionStatusRecorded",
    "SafetyPlanAgreed",
    "ShareGranted",
    "ShareRevoked",
    "SpecificGroupEnded",
    "SpecificGroupFlagged",
    "VeiligheidsbeoordelingConcluded",
    "VtStageTransitioned",
    "ZichtOrganised",
]


_RECEIVED_AT = (
    "When Veilig Thuis received the melding (UTC); the envelope's at is when it was "
    "registered. Absent from events recorded before it existed: then it is at."
)


class DomainEvent(BaseModel):
    """The envelope every event shares.

    Attributes:
        case_id: the case the event belongs to.
        at: when it was decided (UTC, timezone-aware).
        actor: who decided it.
        policy_version: the version of the regional policy it was decided under.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: ClassVar[int] = 1

    case_id: str
    at: AwareDatetime
    actor: Actor
    policy_version: str


class CaseOpened(DomainEvent):
    """A household's case was opened from a melding or an advies."""

    region: str
    via: str = Field(pattern="^(melding|advies)$")
    acute: bool = False
    melder_kind: str = Field(description="politie, professional, burger or anoniem.")
    melder_organisation: str = Field(
        default="", description="A professional melder's organisation id: feedback goes there."
    )
    summary: str = Field(default="", description="What the melder reported (sealed).")
    regie_organisation: str
    casusregisseur: str
    received_at: AwareDatetime | None = Field(default=None, description=_RECEIVED_AT)


class MemberRecorded(DomainEvent):
    """A person was recorded as a member of the household."""

    member_id: str
    role: MemberRole
    name: str
    date_of_birth: date | None = None


class SpecificGroupFlagged(DomainEvent):
    """The case was flagged for a specific group, which changes routing."""

    flag: SpecificGroup


class SpecificGroupEnded(DomainEvent):
    """A specific-group flag was ended, with the reason it no longer applies."""

    flag: SpecificGroup
    reason: str


class PhaseTransitioned(DomainEvent):
    """The phase chart moved: ``event`` took the case from ``source`` to ``target``."""

    event: str
    source: str
    target: str
    reason: str = ""


class VtStageTransitioned(DomainEvent):
    """The Veilig Thuis chart moved: ``event`` took the case from ``source`` to ``target``.

    A decision that concludes the veiligheidsbeoordeling carries the veiligheidstaxatie; one
    recorded before the taxatie existed has ``None`` there: not recorded. An onderzoek carries
    its Handelingsprotocol ground; an older one has its free-text ground in ``reason`` only.
    """

    event: str
    source: str
    target: str
    reason: str = ""
    acute_onveiligheid: bool | None = Field(
        default=None, description="The veiligheidstaxatie: acute onveiligheid; None: not recorded."
    )
    structurele_onveiligheid: bool | None = Field(
        default=None,
        description="The veiligheidstaxatie: structurele onveiligheid; None: not recorded.",
    )
    onderzoek_ground: OnderzoekGround | None = Field(
        default=None, description="The Handelingsprotocol ground of an onderzoek."
    )


class SafetyPlanAgreed(DomainEvent):
    """A (new version of the) safety plan was agreed."""

    version: int
    agreed_on: date
    summary: str = ""
    agreed_with_household: bool = True


class SafetyConditionAdded(DomainEvent):
    """A safety condition (veiligheidsvoorwaarde) was agreed."""

    condition_id: str
    statement: str
    owner: str
    check_every_days: int
    check_method: str = ""


class SafetyConditionStatusRecorded(DomainEvent):
    """A check of a safety condition found it met, breached or unknown."""

    condition_id: str
    status: ConditionStatus
    observed_on: date
    evidence: str = ""


class RiskAssessmentRecorded(DomainEvent):
    """A risk assessment (or a new version of one) was recorded."""

    assessment: RiskAssessment


class IncidentRecorded(DomainEvent):
    """A new incident of violence or unsafety was recorded."""

    occurred_on: date
    description: str = ""


class CasusregisseurAssigned(DomainEvent):
    """Within the organisation holding regie, another casusregisseur took over."""

    organisation: str
    casusregisseur: str


class RegieReturned(DomainEvent):
    """A hermelding reopened a closed case: the melding moves the responsibility for zicht op
    veiligheid to Veilig Thuis (Handelingsprotocol 2019), so regie returns to Veilig Thuis with
    the professional who received it as casusregisseur, not to whoever held it at closure."""

    organisation: str
    casusregisseur: str
    reason: str


class PlanVanAanpak(BaseModel):
    """The skeleton of an MDA++ plan van aanpak: one plan for the whole household system."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    members: list[str] = Field(description="Member ids the plan covers: children and adults.")
    casusregisseur: str = Field(description="The one casusregisseur proposed for the plan.")
    goals_per_phase: dict[str, list[str]] = Field(
        description="Goals per phase (directe_veiligheid, stabiele_veiligheid, herstel)."
    )
    trauma_screening: bool = True
    criteria_met: list[str] = Field(description="The entry criteria met when it was proposed.")


class HandoverProposed(DomainEvent):
    """The organisation holding regie proposed to hand it over; it keeps regie until accepted.

    The payload (conditions, monitoring agreement, risk summary, legal basis, whether the
    household was informed) is what the receiver sees: nothing else of the case.
    """

    handover_id: str
    from_organisation: str
    to_organisation: str
    respond_by: date
    note: str = ""
    purpose: str = Field(default="regie", pattern="^(regie|mda_triage|afschalen)$")
    safety_conditions: list[str] = Field(default_factory=list, description="Condition ids.")
    monitoring_agreement: str = ""
    risk_summary: str = ""
    legal_basis: str = ""
    household_informed: bool = False
    household_not_informed_reason: str = ""
    plan_van_aanpak: PlanVanAanpak | None = None


class HandoverAccepted(DomainEvent):
    """The receiver accepted a handover: regie moved to it in this same event."""

    handover_id: str
    casusregisseur: str


class HandoverRejected(DomainEvent):
    """The receiver rejected a handover; regie stays with the sender."""

    handover_id: str
    reason: str


class HandoverWithdrawn(DomainEvent):
    """The sender withdrew a handover; regie stays with the sender."""

    handover_id: str
    reason: str = ""


class HandoverExpired(DomainEvent):
    """Nobody answered a handover by its response date; the sender keeps regie."""

    handover_id: str


class HandoverEscalated(DomainEvent):
    """An expired handover was escalated to the sender's and the region's contacts."""

    handover_id: str
    notified: list[str] = Field(description="Organisation ids told.")
    contacts: list[str] = Field(description="Their functional mailboxes.")


class DeadlineEscalated(DomainEvent):
    """An overdue deadline was escalated to the responsible organisation and the region.

    It stays overdue (and shown) until the case moves past it.
    """

    kind: str
    ref: str = Field(description="Which instance: a handover id, a monitoring moment, ...")
    due: date
    responsible: str
    notified: list[str]
    contacts: list[str]


class MeldingReceived(DomainEvent):
    """Veilig Thuis received a new melding about this known household.

    ``classification`` is how CBS counts it: vervolgmelding during or after the
    veiligheidsbeoordeling or during monitoring, or hermelding after Veilig Thuis closed.
    """

    classification: str
    melder_kind: str
    melder_organisation: str = ""
    acute: bool = False
    summary: str = Field(default="", description="What the melder reported (sealed).")
    received_at: AwareDatetime | None = Field(default=None, description=_RECEIVED_AT)


class VeiligheidsbeoordelingConcluded(DomainEvent):
    """Veilig Thuis concluded the veiligheidsbeoordeling of one vervolgmelding, with its
    veiligheidstaxatie and the follow-up decided, without restarting its track.

    A scaling up it decided is recorded beside it as a :class:`VtStageTransitioned`.
    """

    melding_id: str = Field(description="The melding assessed: m2, m3, ... (m1 is the first).")
    acute_onveiligheid: bool = Field(description="The veiligheidstaxatie: acute onveiligheid.")
    structurele_onveiligheid: bool = Field(
        description="The veiligheidstaxatie: structurele onveiligheid."
    )
    follow_up: FollowUp
    reason: str = ""


class ZichtOrganised(DomainEvent):
    """Veilig Thuis arranged how zicht op veiligheid is kept while a melding waits for its
    veiligheidsbeoordeling; a later arrangement for the same melding replaces it."""

    melding_id: str = Field(description="The waiting melding: m1, m2, ...")
    kept_by: str = Field(description="The organisation that keeps an eye on the household.")
    means: ZichtMeans
    until: date = Field(description="The last day the arrangement holds.")
    note: str = ""


class MonitoringCheckRecorded(DomainEvent):
    """A monitoring moment after the handover was carried out."""

    checked_on: date
    outcome: str = Field(pattern="^(veilig|onveilig)$")
    note: str = ""


class ObligationWaived(DomainEvent):
    """An open obligation was made moot by a decision with a reason (the responsible
    organisation or Veilig Thuis): it ends, recorded, instead of lapsing unseen."""

    obligation_id: str = Field(description="The obligation: kind:ref, e.g. monitoring:m3.")
    reason: str


class HuisverbodImposed(DomainEvent):
    """The burgemeester imposed a tijdelijk huisverbod; help starts within its days. An
    incident of the household (it restarts the incident-free period)."""

    imposed_on: date
    ends_on: date
    against: str | None = Field(
        default=None,
        description="The member it was imposed on (absent from events recorded before).",
    )


class HuisverbodExtended(DomainEvent):
    """The burgemeester extended the tijdelijk huisverbod."""

    ends_on: date


class HuisverbodHelpStarted(DomainEvent):
    """Help started during the tijdelijk huisverbod."""

    started_on: date


class MdaCriteriaAssessed(DomainEvent):
    """A professional weighed the MDA++ entry criteria: these are met."""

    met: list[str]
    note: str = ""


class MdaSignalled(DomainEvent):
    """The MDA++ criteria sweep found the entry criteria met: the regiehouder is told."""

    criteria: list[str]


class LegalHoldPlaced(DomainEvent):
    """A legal hold: the case is kept past its retention period until the hold is released."""

    reason: str


class LegalHoldReleased(DomainEvent):
    """A legal hold was released; retention applies again."""

    reason: str


class ShareGranted(DomainEvent):
    """Read access to the case was granted to another organisation, on a legal basis, until a
    date (inclusive). It gives the right to read, never to change."""

    share_id: str
    from_organisation: str = Field(description="The organisation that granted it.")
    to_organisation: str
    legal_basis: str = Field(description="e.g. art. 5.2.6 Wmo 2015, convenant, or consent.")
    expires_on: date


class ShareRevoked(DomainEvent):
    """A share was revoked before it expired."""

    share_id: str


class BreakGlassUsed(DomainEvent):
    """A professional without another basis read the case in an emergency (break-glass).

    ``actor`` is who used it; ``reason`` stays sealed with the case's data key. Veilig Thuis
    reviews every use within five werkdagen.
    """

    review_id: str
    reason: str = Field(description="Why the emergency access was needed (sealed).")


class BreakGlassReviewed(DomainEvent):
    """Veilig Thuis reviewed a break-glass use and judged it justified or not."""

    review_id: str
    outcome: str = Field(pattern="^(justified|unjustified)$")
    note: str = ""


class CaseErased(DomainEvent):
    """The case's data key was destroyed under retention (crypto-shredding).

    Stored unsealed (the key is gone) and holding no personal data: the rule and the date the
    retention period ended. Earlier records stay in the ledger, sealed and verifiable.
    """

    rule: str
    retained_until: date


class AccessRecorded(DomainEvent):
    """Somebody read, searched or was refused: one NEN 7513 access-log entry.

    Kept in the case's access stream (``<case>~access``), never in the case's own events.
    ``actor`` is who acted; ``policy_version`` the rules in force.
    """

    subject: str = Field(description="The case looked at, or '~caseload' for a search.")
    action: str = Field(description="read, search, or command (a refused change).")
    query: str = Field(description="What was asked: show, history, allowed, replay, list, ...")
    outcome: str = Field(pattern="^(allowed|denied|refused)$")
    legal_basis: str = Field(
        description="Why access was allowed: regie, veilig_thuis, handover, auditor."
    )
    access_point: str = Field(description="python, cli or http.")
    on_behalf_of: str = ""
    detail: str = Field(
        default="", description="The error class and rule of a refusal; never data."
    )
    client: str = Field(
        default="",
        max_length=64,
        description="From where: the network address an HTTP request came from (the "
        "professional's workstation, or the server of the system that acts for them; a "
        "reverse proxy's own address behind one); empty elsewhere and in older entries.",
    )


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.__name__: cls
    for cls in (
        CaseOpened,
        MemberRecorded,
        SpecificGroupFlagged,
        SpecificGroupEnded,
        PhaseTransitioned,
        VtStageTransitioned,
        SafetyPlanAgreed,
        SafetyConditionAdded,
        SafetyConditionStatusRecorded,
        RiskAssessmentRecorded,
        IncidentRecorded,
        CasusregisseurAssigned,
        RegieReturned,
        HandoverProposed,
        HandoverAccepted,
        HandoverRejected,
        HandoverWithdrawn,
        HandoverExpired,
        HandoverEscalated,
        DeadlineEscalated,
        MeldingReceived,
        VeiligheidsbeoordelingConcluded,
        ZichtOrganised,
        MonitoringCheckRecorded,
        ObligationWaived,
        HuisverbodImposed,
        HuisverbodExtended,
        HuisverbodHelpStarted,
        MdaCriteriaAssessed,
        MdaSignalled,
        LegalHoldPlaced,
        LegalHoldReleased,
        ShareGranted,
        ShareRevoked,
        BreakGlassUsed,
        BreakGlassReviewed,
        CaseErased,
        AccessRecorded,
    )
}
"""Every event type by its stored name; the mapper looks types up here."""
