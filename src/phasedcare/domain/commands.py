"""Commands: what a professional asks the engine to do, validated at the boundary.

Commands are imperative and carry no actor or time: the service adds those when it handles
them. Every field is validated here, so a malformed command never reaches the domain.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from phasedcare.domain.household import MemberRole, SpecificGroup
from phasedcare.domain.safety import ConditionStatus, RiskLevel

__all__ = [
    "COMMAND_TYPES",
    "AcceptHandover",
    "AddSafetyCondition",
    "AgreeSafetyPlan",
    "AssignCasusregisseur",
    "CaseCommand",
    "Command",
    "FireEvent",
    "FlagSpecificGroup",
    "OpenCase",
    "PlaceLegalHold",
    "ProposeHandover",
    "RecordConditionStatus",
    "RecordIncident",
    "RecordMember",
    "RecordRiskAssessment",
    "RejectHandover",
    "ReleaseLegalHold",
    "WithdrawHandover",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Command(BaseModel):
    """Base of every command: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CaseCommand(Command):
    """A command about an existing case."""

    case_id: str = Field(pattern=_ID)


class OpenCase(Command):
    """Open a household's case from a melding or an advies received by Veilig Thuis."""

    via: str = Field(pattern="^(melding|advies)$")
    melder_kind: str = Field(
        default="professional", pattern="^(politie|professional|burger|anoniem)$"
    )
    acute: bool = False
    summary: str = Field(default="", max_length=10_000)
    case_id: str | None = Field(
        default=None, pattern=_ID, description="Chosen by the engine when absent."
    )


class RecordMember(CaseCommand):
    """Record a person as a member of the household."""

    role: MemberRole
    name: str = Field(min_length=1, max_length=200)
    date_of_birth: date | None = None


class FlagSpecificGroup(CaseCommand):
    """Flag the case for a specific group (intieme terreur, eergerelateerd geweld, ...)."""

    flag: SpecificGroup


class FireEvent(CaseCommand):
    """Fire an event of the phase chart (``phase``) or the Veilig Thuis chart (``vt``)."""

    chart: str = Field(pattern="^(phase|vt)$")
    event: str = Field(min_length=1, max_length=60)
    reason: str = Field(default="", max_length=2000)


class AgreeSafetyPlan(CaseCommand):
    """Record that a (new version of the) safety plan was agreed."""

    agreed_on: date
    summary: str = Field(default="", max_length=5000)
    agreed_with_household: bool = True


class AddSafetyCondition(CaseCommand):
    """Add a safety condition (veiligheidsvoorwaarde) and who checks it how often."""

    statement: str = Field(min_length=1, max_length=2000)
    owner: str = Field(pattern=_ID, description="The organisation that checks it.")
    check_every_days: int = Field(gt=0, le=366)
    check_method: str = Field(default="", max_length=500)


class RecordConditionStatus(CaseCommand):
    """Record the outcome of a check of a safety condition; a breach fires terugval."""

    condition_id: str = Field(pattern=_ID)
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
    assessment_id: str | None = Field(default=None, pattern=_ID)


class RecordIncident(CaseCommand):
    """Record a new incident; past directe veiligheid it fires terugval."""

    occurred_on: date
    description: str = Field(default="", max_length=10_000)


class AssignCasusregisseur(CaseCommand):
    """Within the organisation holding regie, hand the case to another casusregisseur."""

    casusregisseur: str = Field(pattern=_ID)


class ProposeHandover(CaseCommand):
    """Propose to hand regie to another organisation; the sender keeps it until acceptance."""

    to_organisation: str = Field(pattern=_ID)
    note: str = Field(default="", max_length=5000)


class AcceptHandover(CaseCommand):
    """Accept a handover: regie moves to the receiver with this command."""

    handover_id: str = Field(pattern=_ID)
    casusregisseur: str = Field(pattern=_ID)


class RejectHandover(CaseCommand):
    """Reject a handover with a reason; regie stays with the sender."""

    handover_id: str = Field(pattern=_ID)
    reason: str = Field(min_length=1, max_length=2000)


class WithdrawHandover(CaseCommand):
    """Withdraw an open handover; regie stays with the sender."""

    handover_id: str = Field(pattern=_ID)
    reason: str = Field(default="", max_length=2000)


class PlaceLegalHold(CaseCommand):
    """Keep the case past its retention period (a court, a complaint, an inquiry)."""

    reason: str = Field(min_length=1, max_length=2000)


class ReleaseLegalHold(CaseCommand):
    """Release a legal hold; retention applies again."""

    reason: str = Field(min_length=1, max_length=2000)


COMMAND_TYPES: tuple[type[Command], ...] = (
    OpenCase,
    RecordMember,
    FlagSpecificGroup,
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
    PlaceLegalHold,
    ReleaseLegalHold,
)
"""Every command type, in the order the docs list them."""
