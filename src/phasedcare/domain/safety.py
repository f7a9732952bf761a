"""Safety plans, safety conditions (veiligheidsvoorwaarden) and risk assessments."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ConditionStatus",
    "RiskAssessment",
    "RiskLevel",
    "SafetyCondition",
    "SafetyPlan",
]


class ConditionStatus(StrEnum):
    """Whether a safety condition holds, as last checked."""

    met = "met"
    breached = "breached"
    unknown = "unknown"


class SafetyCondition(BaseModel):
    """What must at least happen for the household to be safe now.

    Attributes:
        condition_id: ``c1``, ``c2``... in the order they were agreed.
        statement: the agreement itself (may hold personal data: sealed).
        owner: the organisation that checks it.
        check_every_days: how often it is checked.
        check_method: how it is checked (a visit, a call, school attendance...).
        status: as last recorded; ``unknown`` until the first check.
        status_on: the date of the last check, if any.
        evidence: what the last check found (sealed).
        added_at: when it was agreed: its first check is due ``check_every_days`` after.

    Not frozen: folding a long monitoring history updates the status in place.
    """

    model_config = ConfigDict(extra="forbid")

    condition_id: str
    statement: str = Field(min_length=1, max_length=2000)
    owner: str
    check_every_days: int = Field(gt=0, le=366)
    check_method: str = Field(default="", max_length=500)
    status: ConditionStatus = ConditionStatus.unknown
    status_on: date | None = None
    evidence: str = ""
    added_at: datetime | None = None


class SafetyPlan(BaseModel):
    """The agreed safety plan (veiligheidsplan); each agreement bumps its version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    agreed_on: date
    summary: str = Field(default="", max_length=5000)
    agreed_with_household: bool = True


class RiskLevel(StrEnum):
    """The level an instrument concludes; rules attach to the level, never to free text."""

    laag = "laag"
    verhoogd = "verhoogd"
    hoog = "hoog"
    acuut = "acuut"


class RiskAssessment(BaseModel):
    """A versioned risk assessment (risicotaxatie) with an instrument and item scores."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    assessment_id: str
    record_version: int = Field(ge=1, description="Bumped when the same assessment is revised.")
    instrument: str = Field(min_length=1, max_length=60, description="e.g. RiHG, LIRIK, CARE-NL.")
    instrument_version: str = Field(min_length=1, max_length=30)
    items: dict[str, str] = Field(default_factory=dict, description="Item id -> score.")
    level: RiskLevel
    assessor: str = Field(description="The user id of the assessor.")
    assessed_on: date
